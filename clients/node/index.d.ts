// Type definitions for spillway 0.1.0: the Node.js client and worker of
// Spillway's SPW2 wire protocol (docs/protocol.md). Hand-written; see README.md.

/// <reference types="node" />

import { EventEmitter } from 'events'

/** A frame as given: a string is sent as UTF-8. */
export type Frame = string | Buffer | Uint8Array

/** The status codes of docs/protocol.md. */
export declare const STATUS: Readonly<{
  OK: 0
  NO_SERVICE: 1
  TIMEOUT: 2
  OVERLOADED: 3
  FAILED: 4
  BAD_REQUEST: 5
  TASK_ERROR: 6
  BUSY: 7
  TOO_LARGE: 8
  FORBIDDEN: 9
}>

/** The statuses' names, by code: 'ok', 'no-service', ... 'forbidden'. */
export declare const STATUS_NAMES: readonly string[]

/** A status code's name; 'unknown-N' for a code the package does not know. */
export declare function statusName (code: number): string

export declare const MAX_BODY_FRAMES: 16
export declare const MAX_EDGES: 16
export declare const MAX_SLOTS: 256

export type StatusName =
  | 'no-service' | 'timeout' | 'overloaded' | 'failed' | 'bad-request'
  | 'task-error' | 'busy' | 'too-large' | 'forbidden'

/**
 * A request answered with a status other than ok. `message` is the reply's
 * text (its one body frame), `frames` the reply's body frames. A plain
 * SpillwayError (not a subclass) is a status the package does not know:
 * `status` is 'unknown-N'.
 */
export declare class SpillwayError extends Error {
  constructor (message?: string, options?: { code?: number, frames?: Buffer[] } | Buffer[])
  /** The status's number (1 to 9, or the unknown code). */
  code: number
  /** The status's name in docs/protocol.md, e.g. 'no-service', or 'unknown-N'. */
  status: StatusName | string
  /** The reply's body frames (for task-error: what the worker said). */
  frames: Buffer[]
}

export declare class NoServiceError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 1
  status: 'no-service'
}
export declare class TimeoutError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 2
  status: 'timeout'
}
export declare class OverloadedError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 3
  status: 'overloaded'
}
export declare class FailedError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 4
  status: 'failed'
}
export declare class BadRequestError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 5
  status: 'bad-request'
}
/** A worker ran the task and failed. A handler may throw one to answer its frames. */
export declare class TaskError extends SpillwayError {
  constructor (message?: string, frames?: Frame[])
  code: 6
  status: 'task-error'
}
export declare class BusyError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 7
  status: 'busy'
}
export declare class TooLargeError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 8
  status: 'too-large'
}
export declare class ForbiddenError extends SpillwayError {
  constructor (message?: string, frames?: Buffer[])
  code: 9
  status: 'forbidden'
}

/** A call on a client that was closed, or waiting when it was. Not a status. */
export declare class ClosedError extends Error {
  code: 'ERR_SPILLWAY_CLOSED'
}

export interface ClientOptions {
  /** Frontend endpoints, 1 to 16, in order of preference: an array or 'EP1,EP2'. */
  edges: string[] | string
  /** With CURVE (docs/security.md): this client's certificate from `spillway keygen` (its `_secret` file is read too). */
  cert?: string
  /** The edges' public certificates: one for all, or one per edge (an array, or 'F1,F2'). */
  serverCert?: string | string[]
}

export interface SubmitOptions {
  /** The task's deadline in ms, an integer 0 to 4294967295; 0 or absent: the edge's default. */
  timeout?: number
  /** Aborting rejects the call with the signal's reason and forgets the request. */
  signal?: AbortSignal
}

export interface SubmitManyOptions extends SubmitOptions {
  /** Requests outstanding at most (default 64). */
  window?: number
}

export type EdgeState = 'unknown' | 'up' | 'draining' | 'down'

export declare class Client {
  constructor (options: ClientOptions | string[] | string)
  /** One task of one frame; resolves to the reply's body (several frames joined). */
  submit (service: string, body: Frame, options?: SubmitOptions): Promise<Buffer>
  /** One task of up to 16 frames; resolves to the reply's frames. */
  submitFrames (service: string, frames: Frame[], options?: SubmitOptions): Promise<Buffer[]>
  /**
   * One task per body, at most `window` outstanding; resolves to each reply's
   * body or its status's SpillwayError (returned, not thrown), in the order of bodies.
   */
  submitMany (service: string, bodies: Iterable<Frame>, options?: SubmitManyOptions): Promise<Array<Buffer | SpillwayError>>
  /** Closes the connections; calls still waiting reject with ClosedError. */
  close (): Promise<void>
  /** Requests sent and not answered yet. */
  readonly outstanding: number
  readonly closed: boolean
  /** Each edge's endpoint and what the client knows of it. */
  readonly edges: Array<{ endpoint: string, state: EdgeState }>
}

export interface AcceptedInfo {
  heartbeatMs: number
  liveness: number
  /** The slots the edge fills. */
  slots: number
  maxMessageBytes: number
}

export type Handler = (body: Buffer) => Frame | null | undefined | Promise<Frame | null | undefined>
export type FramesHandler = (frames: Buffer[]) => Frame[] | null | undefined | Promise<Frame[] | null | undefined>

interface WorkerOptionsBase {
  /** The edge's backend endpoint. */
  edge: string
  /** 0 to 64 of A-Z a-z 0-9 . _ -; '' or absent: the edge's default service. */
  service?: string
  /** With CURVE: this worker's certificate (its `_secret` file is read too). */
  cert?: string
  /** With CURVE: the edge's public certificate. */
  serverCert?: string
  /** Tasks run at once, 1 to 256 (default 1). */
  slots?: number
}

export interface WorkerOptions extends WorkerOptionsBase {
  handler: Handler
  frames?: false
}

export interface FramesWorkerOptions extends WorkerOptionsBase {
  handler: FramesHandler
  frames: true
}

export declare class Worker extends EventEmitter {
  constructor (options: WorkerOptions | FramesWorkerOptions)
  /** Connects and says READY; resolves to the worker once READY is sent. */
  start (): Promise<this>
  /**
   * Graceful: starts no new task, lets running handlers finish (up to timeout
   * ms, default 5000) and sends their RESULTs, then says DISCONNECT (the edge
   * gives what was not started to other workers) and closes the socket.
   */
  stop (options?: { timeout?: number }): Promise<void>
  /** Resolves at the edge's first ACCEPTED. */
  readonly accepted: Promise<AcceptedInfo>
  readonly edge: string
  readonly service: string
  readonly slots: number
  readonly frames: boolean
  /** From the last ACCEPTED (until then: 1000, 3, 0, 0). */
  heartbeatMs: number
  liveness: number
  edgeSlots: number
  maxMessageBytes: number
  /** Handlers finished; links opened again. */
  tasksDone: number
  reconnects: number

  on (event: 'accepted', listener: (info: AcceptedInfo) => void): this
  on (event: 'disconnect', listener: (info: { reason: string, retryMs: number }) => void): this
  on (event: 'reconnecting', listener: (info: { reason: string, waitMs: number }) => void): this
  on (event: 'stopped', listener: () => void): this
  on (event: string | symbol, listener: (...args: any[]) => void): this
  once (event: 'accepted', listener: (info: AcceptedInfo) => void): this
  once (event: 'disconnect', listener: (info: { reason: string, retryMs: number }) => void): this
  once (event: 'reconnecting', listener: (info: { reason: string, waitMs: number }) => void): this
  once (event: 'stopped', listener: () => void): this
  once (event: string | symbol, listener: (...args: any[]) => void): this
}
