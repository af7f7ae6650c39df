import { describe, expect, it } from 'vitest'
import {
  MediaMetadataSchema,
  UploadResponseSchema,
} from '../../proto-contracts/gen/ts/devarno/content/v1/media_pb.ts'
import { AuditEventSchema } from '../../proto-contracts/gen/ts/devarno/events/v1/audit_pb.ts'
import {
  ChatMessageSchema,
  PresenceUpdateSchema,
} from '../../proto-contracts/gen/ts/devarno/events/v1/chat_pb.ts'
import { SessionSchema, UserSchema } from '../../proto-contracts/gen/ts/devarno/shared/v1/user_pb.ts'
import { assertArray, assertMessage, checkArray, checkMessage } from './contract.ts'

const chatMessage = {
  id: 'msg_1',
  content: 'hello',
  sender_id: 'user_1',
  channel_id: 'family',
  created_at: '2026-02-19T10:00:00.000Z',
}

const upload = {
  id: 'file_1',
  url: 'http://localhost:8081/api/v1/files/file_1/download',
  thumbnail_url: 'http://localhost:8081/api/v1/files/file_1/download?thumb=1',
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  size_bytes: 12,
}

// better-auth get-session body: protobuf JSON names (camelCase).
const user = {
  id: 'user_1',
  email: 'ada@example.com',
  name: 'Ada',
  image: null,
  role: 'admin',
  emailVerified: true,
  banned: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-02T00:00:00.000Z',
}

// better-auth 1.7's session: token, createdAt and updatedAt too (the parity suite found them).
const session = {
  id: 'sess_1',
  token: 'SessionToken00000000000000000001',
  userId: 'user_1',
  expiresAt: '2026-03-01T00:00:00.000Z',
  createdAt: '2026-02-22T00:00:00.000Z',
  updatedAt: '2026-02-22T00:00:00.000Z',
  ipAddress: '127.0.0.1',
  userAgent: 'vitest',
}

describe('checkMessage accepts the wire shapes', () => {
  it('ChatMessage (proto names) and ChatMessage[]', () => {
    expect(checkMessage(ChatMessageSchema, chatMessage)).toEqual([])
    expect(checkArray(ChatMessageSchema, [chatMessage, { ...chatMessage, id: 'msg_2' }])).toEqual([])
    expect(checkArray(ChatMessageSchema, [])).toEqual([])
    expect(() => assertArray(ChatMessageSchema, [chatMessage])).not.toThrow()
  })

  it('UploadResponse with size_bytes as a JSON number, and MediaMetadata', () => {
    expect(checkMessage(UploadResponseSchema, upload)).toEqual([])
    const metadata = {
      id: 'file_1',
      name: 'a.png',
      content_type: 'image/png',
      size_bytes: 10 * 1024 * 1024,
      sha256: upload.sha256,
      owner_id: 'user_1',
      created_at: '2024-02-29T10:00:00+01:00',
      url: upload.url,
      thumbnail_url: '',
    }
    expect(checkMessage(MediaMetadataSchema, metadata)).toEqual([])
  })

  it('User and Session in json names, image null or absent or a string', () => {
    expect(checkMessage(UserSchema, user, { names: 'json' })).toEqual([])
    const { image: _image, ...withoutImage } = user
    expect(checkMessage(UserSchema, withoutImage, { names: 'json' })).toEqual([])
    expect(checkMessage(UserSchema, { ...user, image: 'https://x/a.png' }, { names: 'json' })).toEqual([])
    expect(checkMessage(SessionSchema, session, { names: 'json' })).toEqual([])
    expect(() => assertMessage(UserSchema, user, { names: 'json' })).not.toThrow()
  })

  it('role is a plain string, not an enum name', () => {
    expect(checkMessage(UserSchema, { ...user, role: 'child' }, { names: 'json' })).toEqual([])
  })

  it('AuditEvent with a Struct metadata object', () => {
    const event = {
      id: 'evt_1',
      actor_id: 'user_1',
      action: 'media.upload',
      target_type: 'file',
      target_id: 'file_1',
      request_id: 'req_1',
      occurred_at: '2026-02-19T10:00:00Z',
      metadata: { size: 12, tags: ['a'], nested: { ok: true, none: null } },
    }
    expect(checkMessage(AuditEventSchema, event)).toEqual([])
    expect(checkMessage(AuditEventSchema, { ...event, metadata: [1] })).toEqual([
      'metadata: expected JSON object, got array',
    ])
  })
})

describe('checkMessage rejects contract drift', () => {
  it('a camelCase key in proto mode (the other spelling is never tolerated)', () => {
    const { created_at, ...rest } = chatMessage
    expect(checkMessage(ChatMessageSchema, { ...rest, createdAt: created_at })).toEqual([
      'createdAt: unknown field (expected created_at)',
      'created_at: missing field',
    ])
  })

  it('a snake_case key in json mode', () => {
    const { emailVerified, ...rest } = user
    expect(checkMessage(UserSchema, { ...rest, email_verified: emailVerified }, { names: 'json' })).toEqual([
      'email_verified: unknown field (expected emailVerified)',
      'emailVerified: missing field',
    ])
    const { userId, ...sessionRest } = session
    expect(checkMessage(SessionSchema, { ...sessionRest, user_id: userId }, { names: 'json' })).toContain(
      'user_id: unknown field (expected userId)',
    )
  })

  it('an unknown field', () => {
    expect(checkMessage(ChatMessageSchema, { ...chatMessage, sender: 'user_1' })).toEqual([
      'sender: unknown field (devarno.events.v1.ChatMessage has id, content, sender_id, channel_id, created_at)',
    ])
  })

  it('a missing field, and null for a non-optional field', () => {
    const { channel_id: _channel, ...rest } = chatMessage
    expect(checkMessage(ChatMessageSchema, rest)).toEqual(['channel_id: missing field'])
    expect(checkMessage(ChatMessageSchema, { ...chatMessage, content: null })).toEqual([
      'content: null is not allowed (field is not optional)',
    ])
    // An all-defaults proto3 message would pass fromJson; every field still has to be on the wire.
    expect(checkMessage(UploadResponseSchema, {})).toHaveLength(5)
  })

  it('size_bytes as a string, fractional or negative', () => {
    expect(checkMessage(UploadResponseSchema, { ...upload, size_bytes: '12' })).toEqual([
      'size_bytes: expected non-negative int64 as JSON number (integer), got string "12"',
    ])
    expect(checkMessage(UploadResponseSchema, { ...upload, size_bytes: 1.5 })).toHaveLength(1)
    expect(checkMessage(UploadResponseSchema, { ...upload, size_bytes: -1 })).toEqual([
      'size_bytes: expected non-negative int64 as JSON number in [0, 9007199254740991], got -1',
    ])
    expect(checkMessage(UploadResponseSchema, { ...upload, size_bytes: 2 ** 60 })).toHaveLength(1)
  })

  it('wrong scalar types', () => {
    expect(checkMessage(ChatMessageSchema, { ...chatMessage, content: 42 })).toEqual([
      'content: expected string, got number 42',
    ])
    expect(checkMessage(PresenceUpdateSchema, { user_id: 'u', online: 'true', channel_id: 'c' })).toEqual([
      'online: expected boolean, got string "true"',
    ])
    expect(checkMessage(UserSchema, { ...user, image: 7 }, { names: 'json' })).toEqual([
      'image: expected string, got number 7',
    ])
  })

  it('bad timestamps', () => {
    for (const created_at of [
      '2026-02-19',
      '2026-02-19 10:00:00Z',
      '2026-02-19T10:00:00',
      'yesterday',
      1_700_000_000,
    ]) {
      const problems = checkMessage(ChatMessageSchema, { ...chatMessage, created_at })
      expect(problems).toHaveLength(1)
      expect(problems[0]).toMatch(/^created_at: expected ISO-8601 string/)
    }
    // Date.parse would roll this over to March 2.
    expect(
      checkMessage(ChatMessageSchema, { ...chatMessage, created_at: '2026-02-30T00:00:00Z' }),
    ).toHaveLength(1)
    // Well-formed but out of Timestamp's range: caught by the fromJson backstop.
    expect(checkMessage(ChatMessageSchema, { ...chatMessage, created_at: '0000-01-01T00:00:00Z' })).toEqual([
      expect.stringMatching(
        /^\(root\): fromJson\(devarno\.events\.v1\.ChatMessage\) rejected it: .*0001-01-01/,
      ),
    ])
    expect(checkMessage(SessionSchema, { ...session, expiresAt: null }, { names: 'json' })).toEqual([
      'expiresAt: null is not allowed (field is not optional)',
    ])
  })

  it('non-objects, and non-arrays for checkArray', () => {
    for (const value of [null, 'x', 1, [chatMessage], new Date()]) {
      const problems = checkMessage(ChatMessageSchema, value)
      expect(problems).toHaveLength(1)
      expect(problems[0]).toMatch(/^\(root\): expected JSON object \(devarno\.events\.v1\.ChatMessage\)/)
    }
    expect(checkArray(ChatMessageSchema, chatMessage)).toEqual([
      '(root): expected array of devarno.events.v1.ChatMessage, got object',
    ])
    expect(checkArray(ChatMessageSchema, [chatMessage, { ...chatMessage, content: 1 }])).toEqual([
      '[1].content: expected string, got number 1',
    ])
  })

  it('nested paths', () => {
    const event = {
      id: 'evt_1',
      actor_id: 'user_1',
      action: 'a',
      target_type: 't',
      target_id: 'x',
      request_id: 'r',
      occurred_at: '2026-02-19T10:00:00Z',
      metadata: { n: Number.NaN },
    }
    expect(checkMessage(AuditEventSchema, event)).toEqual([
      'metadata.n: expected finite JSON number, got NaN',
    ])
  })

  it('assertMessage throws with every problem and the value', () => {
    const bad = { ...upload, size_bytes: '12', sizeBytes: 12 }
    expect(() => assertMessage(UploadResponseSchema, bad)).toThrowError(
      /devarno\.content\.v1\.UploadResponse contract violation \(2 problems\):\n {2}- sizeBytes: unknown field \(expected size_bytes\)\n {2}- size_bytes: expected .*\n {2}value: \{"id":"file_1"/,
    )
    expect(() => assertArray(ChatMessageSchema, {})).toThrowError(/ChatMessage\[\] contract violation/)
  })
})
