import { type Env, intFromEnv, type MocksConfig } from '../core/config.ts'

// media-service's own settings (the matrix's env names), read into the shared config by its
// descriptor's `configure`: the kernel's config knows no service, so media declares its fields
// on MocksConfig here (TypeScript module augmentation) and its routes read them as before.

declare module '../core/config.ts' {
  interface MocksConfig {
    /** Base of the absolute URLs media-service advertises (`BASE_URL`; follows its port when unset). */
    mediaBaseUrl: string
    /** `MAX_FILE_SIZE`, `MAX_AVATAR_SIZE`: upload limits in bytes (a scenario may override them). */
    maxFileSize: number
    maxAvatarSize: number
    /** `STORAGE_PATH`: keep uploaded bytes on disk (memory when unset). */
    storagePath: string | undefined
  }
}

export function configureMedia(config: MocksConfig, env: Env): void {
  config.mediaBaseUrl = (env.BASE_URL || '').replace(/\/+$/, '')
  config.explicit.mediaBaseUrl = Boolean(env.BASE_URL)
  config.maxFileSize = intFromEnv(env, 'MAX_FILE_SIZE', 10 * 1024 * 1024, 1)
  config.maxAvatarSize = intFromEnv(env, 'MAX_AVATAR_SIZE', 2 * 1024 * 1024, 1)
  config.storagePath = env.STORAGE_PATH || undefined
}
