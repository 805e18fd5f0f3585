'use strict'
// Bad arguments are refused before anything is sent; errors by status.

const test = require('node:test')
const assert = require('node:assert/strict')
const spillway = require('..')
const { Client, Worker } = spillway
const h = require('./helpers')

const skip = h.available() ? false : `no spillway build at ${h.BUILD}`

test('bad arguments are refused before anything is sent', { skip, timeout: 20000 }, async (t) => {
  const edge = await h.startEdge('ARGS')
  const client = new Client({ edges: edge.frontend })
  const worker = new Worker({ edge: edge.backend, service: 'echo', frames: true, handler: async (frames) => frames })
  t.after(async () => {
    await client.close()
    await worker.stop({ timeout: 100 })
    await edge.kill()
  })
  await worker.start()
  await worker.accepted
  assert.equal(String(await client.submit('echo', 'warm', { timeout: 5000 })), 'warm')
  const before = (await edge.stats()).edge

  const refused = [
    [() => client.submit('bad name', 'x'), RangeError],
    [() => client.submit('x'.repeat(65), 'x'), RangeError],
    [() => client.submit('naïve', 'x'), RangeError],
    [() => client.submit(42, 'x'), TypeError],
    [() => client.submit('echo', 42), TypeError],
    [() => client.submit('echo', null), TypeError],
    [() => client.submit('echo', { a: 1 }), TypeError],
    [() => client.submit('echo', ['a']), TypeError],
    [() => client.submitFrames('echo', Array(17).fill('f')), RangeError],
    [() => client.submitFrames('echo', 'abc'), TypeError],
    [() => client.submitFrames('echo', ['a', 7]), TypeError],
    [() => client.submit('echo', 'x', { timeout: -1 }), RangeError],
    [() => client.submit('echo', 'x', { timeout: 1.5 }), RangeError],
    [() => client.submit('echo', 'x', { timeout: 4294967296 }), RangeError],
    [() => client.submit('echo', 'x', { timeout: NaN }), RangeError],
    [() => client.submit('echo', 'x', { timeout: '100' }), TypeError],
    [() => client.submit('echo', 'x', { signal: 'stop' }), TypeError],
    [() => client.submit('echo', 'x', 5), TypeError],
    [() => client.submitMany('echo', ['a', 3]), TypeError],
    [() => client.submitMany('echo', 'abc'), TypeError],
    [() => client.submitMany('echo', ['a'], { window: 0 }), RangeError],
    [() => client.submitMany('echo', ['a'], { window: 2.5 }), RangeError],
    [() => client.submitMany('bad/name', ['a']), RangeError]
  ]
  for (const [call, kind] of refused) {
    const promise = call()
    assert.ok(promise instanceof Promise, `${call} did not return a promise`)
    await assert.rejects(promise, kind, String(call))
  }
  // Accepted at the limits: 64 characters, 16 frames, the largest timeout.
  await assert.rejects(client.submit('x'.repeat(64), 'x', { timeout: 5000 }), spillway.NoServiceError)
  assert.equal((await client.submitFrames('echo', Array(16).fill('f'), { timeout: 4294967295 })).length, 16)
  assert.equal(String(await client.submit('echo', 'last')), 'last')
  const after = (await edge.stats()).edge
  assert.equal(Number(after.accepted), Number(before.accepted) + 2, 'refused calls reached the edge')
  assert.equal(Number(after.no_service), Number(before.no_service) + 1)
  assert.equal(after.bad_requests, before.bad_requests)
  assert.equal(after.dropped_frontend, before.dropped_frontend)
})

test('constructors check their arguments', () => {
  assert.throws(() => new Client(), TypeError)
  assert.throws(() => new Client({}), TypeError)
  assert.throws(() => new Client({ edges: [] }), RangeError)
  assert.throws(() => new Client({ edges: Array(17).fill('tcp://127.0.0.1:1') }), RangeError)
  assert.throws(() => new Client({ edges: ['localhost:5555'] }), RangeError)
  assert.throws(() => new Client({ edges: [5555] }), TypeError)
  const handler = async (b) => b
  const edge = 'tcp://127.0.0.1:1'
  assert.throws(() => new Worker({ edge, service: 's', handler, slots: 0 }), RangeError)
  assert.throws(() => new Worker({ edge, service: 's', handler, slots: 257 }), RangeError)
  assert.throws(() => new Worker({ edge, service: 's', handler, slots: 1.5 }), RangeError)
  assert.throws(() => new Worker({ edge, service: 's', handler, slots: '2' }), TypeError)
  assert.throws(() => new Worker({ edge, service: 'bad name', handler }), RangeError)
  assert.throws(() => new Worker({ edge, service: 's' }), TypeError)
  assert.throws(() => new Worker({ service: 's', handler }), TypeError)
  assert.throws(() => new Worker({ edge, service: 's', handler, frames: 'yes' }), TypeError)
  const w = new Worker({ edge, service: 's', handler, slots: 256 })
  assert.equal(w.slots, 256)
})

test('one error class per status', () => {
  const cases = [
    [1, spillway.NoServiceError, 'no-service'],
    [2, spillway.TimeoutError, 'timeout'],
    [3, spillway.OverloadedError, 'overloaded'],
    [4, spillway.FailedError, 'failed'],
    [5, spillway.BadRequestError, 'bad-request'],
    [6, spillway.TaskError, 'task-error'],
    [7, spillway.BusyError, 'busy'],
    [8, spillway.TooLargeError, 'too-large'],
    [9, spillway.ForbiddenError, 'forbidden']
  ]
  for (const [code, cls, status] of cases) {
    const error = new cls('why', [Buffer.from('why')]) // eslint-disable-line new-cap
    assert.ok(error instanceof spillway.SpillwayError && error instanceof Error)
    assert.equal(error.code, code)
    assert.equal(error.status, status)
    assert.equal(error.message, 'why')
    assert.equal(error.name, cls.name)
    assert.equal(spillway.statusName(code), status)
  }
  const unknown = new spillway.SpillwayError('what', { code: 42 })
  assert.equal(unknown.status, 'unknown-42')
  assert.equal(unknown.code, 42)
  assert.equal(spillway.STATUS.TOO_LARGE, 8)
  assert.equal(new spillway.TimeoutError().message, 'timeout')
})
