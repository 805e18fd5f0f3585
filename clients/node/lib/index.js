'use strict'
// spillway: the client and worker of Spillway's SPW2 protocol
// (docs/protocol.md), spoken over ZeroMQ (the npm package zeromq).

const { Client } = require('./client')
const { Worker } = require('./worker')
const errors = require('./errors')
const protocol = require('./protocol')

module.exports = {
  Client,
  Worker,
  SpillwayError: errors.SpillwayError,
  NoServiceError: errors.NoServiceError,
  TimeoutError: errors.TimeoutError,
  OverloadedError: errors.OverloadedError,
  FailedError: errors.FailedError,
  BadRequestError: errors.BadRequestError,
  TaskError: errors.TaskError,
  BusyError: errors.BusyError,
  TooLargeError: errors.TooLargeError,
  ForbiddenError: errors.ForbiddenError,
  ClosedError: errors.ClosedError,
  STATUS: errors.STATUS,
  STATUS_NAMES: errors.STATUS_NAMES,
  statusName: errors.statusName,
  MAX_BODY_FRAMES: protocol.MAX_BODY_FRAMES,
  MAX_EDGES: protocol.MAX_EDGES,
  MAX_SLOTS: protocol.MAX_SLOTS
}
