import { z } from 'zod'

// The integration matrix's "WebSocket Message Contract (JSON)" for chat-service, as zod
// schemas. Client frames are parsed leniently (unknown keys ignored, as serde does); server
// frames are strict: exactly the matrix's keys, so a test catches any drift.

const channel = z.string().min(1, 'must be a non-empty string')

export const ClientFrameSchemas = {
  message: z.object({ type: z.literal('message'), content: z.string(), channel }),
  typing: z.object({ type: z.literal('typing'), channel, typing: z.boolean() }),
  join: z.object({ type: z.literal('join'), channel }),
  leave: z.object({ type: z.literal('leave'), channel }),
  ping: z.object({ type: z.literal('ping') }),
} as const

export type ClientFrameType = keyof typeof ClientFrameSchemas

export function isClientFrameType(type: string): type is ClientFrameType {
  return Object.hasOwn(ClientFrameSchemas, type)
}

const isoTimestamp = z.iso.datetime({ precision: 3 })

export const ServerMessageFrameSchema = z.strictObject({
  type: z.literal('message'),
  id: z.string().min(1),
  sender: z.string().min(1),
  content: z.string(),
  channel: z.string().min(1),
  timestamp: isoTimestamp,
})

export const PresenceFrameSchema = z.strictObject({
  type: z.literal('presence'),
  user_id: z.string().min(1),
  online: z.boolean(),
  channel: z.string().min(1),
})

export const TypingFrameSchema = z.strictObject({
  type: z.literal('typing'),
  user_id: z.string().min(1),
  channel: z.string().min(1),
  typing: z.boolean(),
})

export const PongFrameSchema = z.strictObject({ type: z.literal('pong') })

/** Stable codes of `error` frames; the socket stays open after each. */
export const WS_ERROR_CODES = [
  'invalid_json',
  'invalid_frame',
  'unknown_type',
  'binary_not_supported',
  'empty_message',
  'message_too_long',
  'unknown_channel',
  'forbidden_channel',
  'not_joined',
] as const
export type WsErrorCode = (typeof WS_ERROR_CODES)[number]

export const ErrorFrameSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(WS_ERROR_CODES),
  message: z.string().min(1),
})

export const ServerFrameSchema = z.discriminatedUnion('type', [
  ServerMessageFrameSchema,
  PresenceFrameSchema,
  TypingFrameSchema,
  PongFrameSchema,
  ErrorFrameSchema,
])

export type ServerMessageFrame = z.infer<typeof ServerMessageFrameSchema>
export type PresenceFrame = z.infer<typeof PresenceFrameSchema>
export type TypingFrame = z.infer<typeof TypingFrameSchema>
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>
export type ServerFrame = z.infer<typeof ServerFrameSchema>

/** REST `ChatMessage` (proto names), as GET /api/v1/messages returns it. */
export interface RestChatMessage {
  id: string
  content: string
  sender_id: string
  channel_id: string
  created_at: string
}

/** The matrix's Proto Contract Mapping: WS sender/channel/timestamp ↔ REST sender_id/channel_id/created_at. */
export function restFromWsMessage(frame: ServerMessageFrame): RestChatMessage {
  return {
    id: frame.id,
    content: frame.content,
    sender_id: frame.sender,
    channel_id: frame.channel,
    created_at: frame.timestamp,
  }
}
