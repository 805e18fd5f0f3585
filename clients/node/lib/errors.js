'use strict'
// One error class per reply status (docs/protocol.md, "Status codes"), all
// subclasses of SpillwayError.

const STATUS = Object.freeze({
  OK: 0,
  NO_SERVICE: 1,
  TIMEOUT: 2,
  OVERLOADED: 3,
  FAILED: 4,
  BAD_REQUEST: 5,
  TASK_ERROR: 6,
  BUSY: 7,
  TOO_LARGE: 8,
  FORBIDDEN: 9
})

const STATUS_NAMES = ['ok', 'no-service', 'timeout', 'overloaded', 'failed', 'bad-request',
  'task-error', 'busy', 'too-large', 'forbidden']

function statusName (code) {
  return code >= 0 && code < STATUS_NAMES.length ? STATUS_NAMES[code] : `unknown-${code}`
}

// The text of a reply's body: its one frame, as UTF-8 ("" for another count).
function textOf (frames) {
  return frames.length === 1 ? frames[0].toString('utf8') : ''
}

class SpillwayError extends Error {
  // new SpillwayError(message, { code, frames }): a plain SpillwayError is a
  // status the package does not know (status 'unknown-N'); the subclasses
  // take (message, frames).
  constructor (message, options) {
    const frames = Array.isArray(options) ? options : (options && options.frames) || []
    const code = options && !Array.isArray(options) && Number.isInteger(options.code) ? options.code : null
    super(message === undefined || message === null ? '' : String(message))
    this.name = new.target.name
    if (new.target === SpillwayError) {
      this.code = code === null ? -1 : code
      this.status = code === null ? 'unknown' : statusName(code)
    } else {
      this.code = new.target.prototype.code // own properties, so that they show
      this.status = new.target.prototype.status
    }
    this.frames = frames
    if (!this.message) this.message = this.status
  }
}

function define (name, code) {
  const cls = {
    [name]: class extends SpillwayError {
      constructor (message, frames) {
        super(message, Array.isArray(frames) ? frames : [])
      }
    }
  }[name]
  Object.defineProperty(cls.prototype, 'code', { value: code, writable: true, configurable: true, enumerable: false })
  Object.defineProperty(cls.prototype, 'status', { value: STATUS_NAMES[code], writable: true, configurable: true, enumerable: false })
  return cls
}

const NoServiceError = define('NoServiceError', 1)
const TimeoutError = define('TimeoutError', 2)
const OverloadedError = define('OverloadedError', 3)
const FailedError = define('FailedError', 4)
const BadRequestError = define('BadRequestError', 5)
const TaskError = define('TaskError', 6)
const BusyError = define('BusyError', 7)
const TooLargeError = define('TooLargeError', 8)
const ForbiddenError = define('ForbiddenError', 9)

const BY_CODE = [null, NoServiceError, TimeoutError, OverloadedError, FailedError, BadRequestError,
  TaskError, BusyError, TooLargeError, ForbiddenError]

// The error for a reply of status code (not 0) and its body frames.
function errorFor (code, frames) {
  const text = textOf(frames)
  const cls = code > 0 && code < BY_CODE.length ? BY_CODE[code] : null
  if (cls === null) return new SpillwayError(text, { code, frames })
  return new cls(text, frames) // eslint-disable-line new-cap
}

// A call on a client that was closed (not a status: nothing was answered).
class ClosedError extends Error {
  constructor (message = 'the spillway client was closed') {
    super(message)
    this.name = 'ClosedError'
    this.code = 'ERR_SPILLWAY_CLOSED'
  }
}

module.exports = {
  STATUS,
  STATUS_NAMES,
  statusName,
  SpillwayError,
  NoServiceError,
  TimeoutError,
  OverloadedError,
  FailedError,
  BadRequestError,
  TaskError,
  BusyError,
  TooLargeError,
  ForbiddenError,
  ClosedError,
  errorFor
}
