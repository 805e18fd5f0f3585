'use strict'
// The worker against a real edge: slots, heartbeats while tasks run,
// reconnecting after the edge restarts, refusals, graceful stop.

const test = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('events')
const spillway = require('..')
const { Client, Worker } = spillway
const h = require('./helpers')

const skip = h.available() ? false : `no spillway build at ${h.BUILD}`
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// An edge, a client of it, and the workers to stop at the end.
async function setup (t, name, ...args) {
  const edge = await h.startEdge(name, ...args)
  const client = new Client({ edges: [edge.frontend] })
  const workers = []
  t.after(async () => {
    await client.close()
    await Promise.all(workers.map((w) => w.stop({ timeout: 100 })))
    await edge.kill()
  })
  const serve = async (options) => {
    const worker = new Worker({ edge: edge.backend, ...options })
    workers.push(worker)
    await worker.start()
    await h.within(worker.accepted, 5000, `${options.service} accepted`)
    return worker
  }
  return { edge, client, serve }
}

test('4 slots run 4 tasks of 300 ms at once', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'SLOTS')
  let running = 0
  let most = 0
  const worker = await serve({
    service: 'slow',
    slots: 4,
    handler: async (body) => {
      most = Math.max(most, ++running)
      await sleep(300)
      running--
      return body
    }
  })
  assert.equal(worker.edgeSlots, 4)
  assert.equal((await edge.stats()).services.slow.slots, '4')
  const started = Date.now()
  const replies = await Promise.all([0, 1, 2, 3].map((i) => client.submit('slow', `task ${i}`, { timeout: 5000 })))
  const took = Date.now() - started
  assert.deepEqual(replies.map(String), ['task 0', 'task 1', 'task 2', 'task 3'])
  assert.equal(most, 4)
  assert.ok(took < 900, `4 tasks of 300 ms on 4 slots took ${took} ms (one at a time: 1200)`)
  assert.equal(worker.tasksDone, 4)
})

test('heartbeats go on while a task runs longer than the liveness', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'LONG')
  await serve({ service: 'long', handler: async (body) => { await sleep(1500); return body } })
  // The edge's heartbeat is 200 ms, its liveness 3: silent 600 ms would be dead.
  assert.equal(String(await client.submit('long', 'patience', { timeout: 5000 })), 'patience')
  const stats = await edge.stats()
  assert.equal(stats.edge.workers_lost, '0')
  assert.equal(stats.edge.requeued, '0')
})

test('handlers: frames, plain values, bad replies, a thrown TaskError', { skip, timeout: 20000 }, async (t) => {
  const { client, serve } = await setup(t, 'HANDLERS')
  await serve({ service: 'frames', frames: true, handler: (frames) => frames.concat(['end']) })
  await serve({ service: 'plain', handler: (body) => `got ${body}` })
  await serve({ service: 'bad', handler: async () => 42 })
  await serve({ service: 'none', handler: async () => undefined })
  await serve({ service: 'custom', frames: true, handler: async (frames) => { throw new spillway.TaskError('no', frames) } })
  await serve({ service: 'rejects', handler: () => Promise.reject(new RangeError('out of range')) })
  assert.deepEqual((await client.submitFrames('frames', ['a', 'b'], { timeout: 5000 })).map(String), ['a', 'b', 'end'])
  assert.equal(String(await client.submit('plain', 'x', { timeout: 5000 })), 'got x')
  await assert.rejects(client.submit('bad', 'x', { timeout: 5000 }),
    (e) => e instanceof spillway.TaskError && /the handler returned a number/.test(e.message))
  assert.equal((await client.submit('none', 'x', { timeout: 5000 })).length, 0)
  await assert.rejects(client.submitFrames('custom', ['p', 'q'], { timeout: 5000 }),
    (e) => e instanceof spillway.TaskError && e.frames.map(String).join() === 'p,q')
  await assert.rejects(client.submit('rejects', 'x', { timeout: 5000 }),
    (e) => e instanceof spillway.TaskError && e.message === 'out of range')
})

test('the worker reconnects after the edge restarts', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'RESTART')
  const worker = await serve({ service: 'echo', handler: async (body) => body })
  assert.equal(String(await client.submit('echo', 'before', { timeout: 5000 })), 'before')
  const againAccepted = once(worker, 'accepted')
  await edge.restart()
  await h.within(againAccepted, 5000, 'ACCEPTED from the restarted edge')
  assert.ok(worker.reconnects >= 1)
  // The client's connection came back too, and its request is sent again if it had gone.
  assert.equal(String(await client.submit('echo', 'after', { timeout: 5000 })), 'after')
  assert.equal((await edge.stats()).services.echo.workers, '1')
})

test('a refused worker waits the retry_ms it is told, then is accepted', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'FULL', '--max-workers', '1')
  const first = await serve({ service: 'one', handler: async () => 'first' })
  const second = new Worker({ edge: edge.backend, service: 'two', handler: async () => 'second' })
  t.after(() => second.stop({ timeout: 100 }))
  const refused = once(second, 'disconnect')
  await second.start()
  const [{ reason, retryMs }] = await h.within(refused, 5000, 'the refusal')
  assert.equal(reason, 'the edge has max_workers workers')
  assert.equal(retryMs, 600) // liveness 3 × heartbeat 200 ms
  await first.stop({ timeout: 1000 })
  await h.within(second.accepted, 5000, 'accepted once there is room')
  assert.equal(String(await client.submit('two', 'x', { timeout: 5000 })), 'second')
})

test('graceful stop: running tasks finish and are answered, unstarted ones go back', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'STOP')
  const ran = []
  const release = h.signalled()
  const first = await serve({
    service: 'work',
    slots: 2,
    handler: async (body) => {
      ran.push(String(body))
      await release.promise
      return `first did ${body}`
    }
  })
  const a = client.submit('work', 'A', { timeout: 8000 })
  await edge.waitFor('A running', (s) => s.services.work.running === '1')
  const stopped = first.stop({ timeout: 5000 })
  const b = client.submit('work', 'B', { timeout: 8000 })
  // B reaches the stopping worker (it has a free slot) and waits there unstarted.
  await edge.waitFor('B at the worker', (s) => s.services.work.running === '2')
  await serve({ service: 'work', handler: async (body) => `second did ${body}` })
  release.resolve()
  await stopped
  assert.equal(String(await a), 'first did A')
  assert.equal(String(await b), 'second did B')
  assert.deepEqual(ran, ['A'])
  const stats = await edge.stats()
  assert.equal(stats.services.work.workers, '1')
})

test('stop with a timeout leaves a handler that never ends', { skip, timeout: 20000 }, async (t) => {
  const { edge, client, serve } = await setup(t, 'STOPHOLD', '--max-attempts', '1')
  const worker = await serve({ service: 'hold', handler: () => new Promise(() => {}) })
  const call = client.submit('hold', 'x', { timeout: 8000 })
  await edge.waitFor('the task running', (s) => s.services.hold.running === '1')
  const started = Date.now()
  await worker.stop({ timeout: 200 })
  const took = Date.now() - started
  assert.ok(took >= 190 && took < 1000, `stop took ${took} ms`)
  // DISCONNECT: the edge gave up on the task at once (max_attempts 1: failed).
  await assert.rejects(call, spillway.FailedError)
  assert.equal((await edge.stats()).edge.workers, '0')
})

test('replies over the edge limit: too-large from the edge, task-error past twice it', { skip, timeout: 20000 }, async (t) => {
  const { client, serve } = await setup(t, 'BIGREPLY')
  const worker = await serve({ service: 'big', handler: async (body) => Buffer.alloc(Number(body), 'z') })
  assert.equal(worker.maxMessageBytes, 1048576)
  assert.equal((await client.submit('big', '1000', { timeout: 5000 })).length, 1000)
  await assert.rejects(client.submit('big', String(1536 * 1024), { timeout: 5000 }), spillway.TooLargeError)
  await assert.rejects(client.submit('big', String(3 * 1024 * 1024), { timeout: 5000 }),
    (e) => e instanceof spillway.TaskError && /over the edge's max_message_bytes/.test(e.message))
  // The worker's link survived both.
  assert.equal((await client.submit('big', '10', { timeout: 5000 })).length, 10)
  assert.equal(worker.reconnects, 0)
})
