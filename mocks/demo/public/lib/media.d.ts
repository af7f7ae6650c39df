// Types for media.js (a browser module served as is; tests import it from TypeScript).
export type Outcome =
  | { kind: 'ok'; status: number; data: unknown; ms: number; requestId: string }
  | {
      kind: 'http'
      status: number
      code: string
      message: string
      data: unknown
      ms: number
      requestId: string
    }
  | { kind: 'network'; message: string; ms: number; requestId: string }
  | { kind: 'timeout'; timeoutMs: number; ms: number; requestId: string }
  | { kind: 'aborted'; ms: number; requestId: string }
export declare const UPLOAD_TIMEOUT_MS: number
export declare const ALLOWED_TYPES: string[]
export declare function formatBytes(n: number): string
export declare function describeUploadFailure(
  o: Outcome,
  ctx: { limits: { maxFileSize: number; maxAvatarSize: number }; type: 'file' | 'avatar' },
): { message: string; retriable: boolean }
