'use strict'
// The client against a real edge: replies, every status it can cause,
// submitMany, AbortSignal, its own deadline.

const test = require('node:test')
const assert = require('node:assert/strict')
const spillway = require('..')
const { Client, Worker } = spillway
const h = require('./helpers')

const skip = h.available() ? false : `no spillway build at ${h.BUILD}`

test('client against one edge', { skip, timeout: 30000 }, async (t) => {
  const edge = await h.startEdge('A')
  const workers = []
  const client = new Client({ edges: [edge.frontend] })
  t.after(async () => {
    await client.close()
    await Promise.all(workers.map((w) => w.stop({ timeout: 200 })))
    await edge.kill()
  })
  const serve = async (service, handler, options = {}) => {
    const worker = new Worker({ edge: edge.backend, service, handler, ...options })
    workers.push(worker)
    await worker.start()
    await h.within(worker.accepted, 5000, `${service} accepted`)
    return worker
  }
  await serve('upper', async (body) => body.toString().toUpperCase())
  await serve('frames', async (frames) => [...frames].reverse(), { frames: true })
  await serve('fail', async (body) => { throw new Error(`cannot do ${body}`) })
  await serve('hold', () => new Promise(() => {}))

  await t.test('submit with the Node worker', async () => {
    const reply = await client.submit('upper', 'hello', { timeout: 5000 })
    assert.ok(Buffer.isBuffer(reply))
    assert.equal(reply.toString(), 'HELLO')
    const bytes = await client.submit('upper', Buffer.from([0x61, 0x00, 0x7a]), { timeout: 5000 })
    assert.deepEqual([...bytes], [0x41, 0x00, 0x5a])
    const viaUint8 = await client.submit('upper', new Uint8Array([0x62]))
    assert.equal(viaUint8.toString(), 'B')
  })

  await t.test('submitFrames keeps every frame, empty ones too', async () => {
    const frames = await client.submitFrames('frames', ['a', Buffer.alloc(0), Buffer.from([1, 2, 3])], { timeout: 5000 })
    assert.equal(frames.length, 3)
    assert.deepEqual(frames.map((f) => [...f]), [[1, 2, 3], [], [0x61]])
    const none = await client.submitFrames('frames', [], { timeout: 5000 })
    assert.deepEqual(none, [])
  })

  await t.test('submit with the C worker', async (t) => {
    const proc = h.cWorker(edge, 'cecho', '--slots', '2')
    t.after(() => proc.kill('SIGKILL'))
    await edge.waitIdle('cecho', 2)
    const reply = await client.submit('cecho', 'from node', { timeout: 5000 })
    assert.equal(reply.toString(), 'from node')
    const frames = await client.submitFrames('cecho', ['x', 'yz'], { timeout: 5000 })
    assert.deepEqual(frames.map(String), ['x', 'yz'])
  })

  await t.test('no-service', async () => {
    await assert.rejects(client.submit('nothing', 'x', { timeout: 5000 }), (error) => {
      assert.ok(error instanceof spillway.NoServiceError)
      assert.ok(error instanceof spillway.SpillwayError)
      assert.equal(error.status, 'no-service')
      assert.equal(error.code, 1)
      assert.match(error.message, /nothing/)
      return true
    })
  })

  await t.test('task-error from a throwing handler', async () => {
    await assert.rejects(client.submit('fail', 'this', { timeout: 5000 }), (error) => {
      assert.ok(error instanceof spillway.TaskError)
      assert.equal(error.status, 'task-error')
      assert.equal(error.code, 6)
      assert.equal(error.message, 'cannot do this')
      assert.deepEqual(error.frames.map(String), ['cannot do this'])
      return true
    })
  })

  await t.test('timeout: a worker that never answers', async () => {
    const started = Date.now()
    await assert.rejects(client.submit('hold', 'x', { timeout: 300 }), (error) => {
      assert.ok(error instanceof spillway.TimeoutError)
      assert.equal(error.status, 'timeout')
      assert.equal(error.code, 2)
      return true
    })
    const took = Date.now() - started
    assert.ok(took >= 250 && took < 1500, `a 300 ms deadline answered after ${took} ms`)
  })

  await t.test('too-large: a body over 1 MiB, and one at the limit', async () => {
    const atLimit = 1048576 - 4 - 1 - 8 - 'upper'.length - 4
    const reply = await client.submit('upper', Buffer.alloc(atLimit, 'a'), { timeout: 5000 })
    assert.equal(reply.length, atLimit)
    assert.equal(reply[0], 0x41)
    await assert.rejects(client.submit('upper', Buffer.alloc(atLimit + 1, 'a'), { timeout: 5000 }), (error) => {
      assert.ok(error instanceof spillway.TooLargeError)
      assert.equal(error.status, 'too-large')
      assert.equal(error.code, 8)
      return true
    })
  })

  await t.test('submitMany: results in order, errors returned', async () => {
    const bodies = Array.from({ length: 50 }, (_, i) => `task ${i}`)
    const results = await client.submitMany('upper', bodies, { timeout: 5000, window: 8 })
    assert.deepEqual(results.map(String), bodies.map((b) => b.toUpperCase()))
    const mixed = await client.submitMany('fail', ['a', 'b'], { timeout: 5000 })
    assert.ok(mixed.every((r) => r instanceof spillway.TaskError))
    assert.deepEqual(mixed.map((r) => r.message), ['cannot do a', 'cannot do b'])
    assert.deepEqual(await client.submitMany('upper', []), [])
  })

  await t.test('submitMany keeps at most window outstanding', async () => {
    let running = 0
    let most = 0
    await serve('counted', async (body) => {
      most = Math.max(most, ++running)
      await new Promise((resolve) => setTimeout(resolve, 5))
      running--
      return body
    }, { slots: 16 })
    const results = await client.submitMany('counted', Array.from({ length: 40 }, (_, i) => String(i)), { window: 3, timeout: 5000 })
    assert.deepEqual(results.map(String), Array.from({ length: 40 }, (_, i) => String(i)))
    assert.ok(most <= 3, `${most} ran at once with window 3`)
  })

  await t.test('AbortSignal rejects with its reason and forgets the request', async () => {
    const controller = new AbortController()
    const call = client.submit('hold', 'x', { timeout: 10000, signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(call, (error) => error.name === 'AbortError')
    assert.equal(client.outstanding, 0)
    const reason = new Error('mine')
    await assert.rejects(client.submit('upper', 'x', { signal: AbortSignal.abort(reason) }), (e) => e === reason)
    await assert.rejects(client.submitMany('hold', ['a', 'b'], { signal: AbortSignal.timeout(50) }),
      (error) => error.name === 'TimeoutError' && !(error instanceof spillway.SpillwayError))
    assert.equal(client.outstanding, 0)
  })
})

test('overloaded with --queue-max 1', { skip, timeout: 20000 }, async (t) => {
  const edge = await h.startEdge('Q', '--queue-max', '1')
  const client = new Client(edge.frontend)
  const worker = new Worker({ edge: edge.backend, service: 'hold', handler: () => new Promise(() => {}) })
  t.after(async () => {
    await client.close()
    await worker.stop({ timeout: 100 })
    await edge.kill()
  })
  await worker.start()
  await worker.accepted
  const first = client.submit('hold', '1', { timeout: 1000 }).catch((e) => e)
  await edge.waitFor('the first task running', (s) => s.services.hold.running === '1')
  const second = client.submit('hold', '2', { timeout: 1000 }).catch((e) => e)
  await edge.waitFor('the second task queued', (s) => s.services.hold.queued === '1')
  const started = Date.now()
  await assert.rejects(client.submit('hold', '3', { timeout: 3000 }), (error) => {
    assert.ok(error instanceof spillway.OverloadedError)
    assert.equal(error.status, 'overloaded')
    assert.equal(error.code, 3)
    return true
  })
  assert.ok(Date.now() - started < 1000, 'overloaded was not answered at once')
  assert.ok((await first) instanceof spillway.TimeoutError)
  assert.ok((await second) instanceof spillway.TimeoutError)
})

test('the client answers timeout itself 1 s after a deadline no edge answered', { skip, timeout: 10000 }, async (t) => {
  const port = await h.freePort() // nothing listens there
  const client = new Client({ edges: [`tcp://127.0.0.1:${port}`] })
  t.after(() => client.close())
  const started = Date.now()
  await assert.rejects(client.submit('x', 'y', { timeout: 200 }), (error) => {
    assert.ok(error instanceof spillway.TimeoutError)
    assert.equal(error.message, 'no edge answered by the deadline')
    return true
  })
  const took = Date.now() - started
  assert.ok(took >= 1150 && took < 2000, `answered after ${took} ms, not 200 + 1000`)
  assert.equal(client.outstanding, 0)
})

test('close rejects what waits, and later calls', { skip, timeout: 10000 }, async () => {
  const port = await h.freePort()
  const client = new Client(`tcp://127.0.0.1:${port}`)
  const waiting = client.submit('x', 'y')
  await client.close()
  await assert.rejects(waiting, (e) => e instanceof spillway.ClosedError)
  await assert.rejects(client.submit('x', 'y'), (e) => e instanceof spillway.ClosedError)
})
