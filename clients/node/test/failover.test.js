'use strict'
// Failover: an edge killed mid-task, an edge that drains, an edge that comes
// back; and the wire seen by a fake edge (a ROUTER of this test): the
// REQUEST's frames, one reply per id, malformed replies dropped, busy.

const test = require('node:test')
const assert = require('node:assert/strict')
const zmq = require('zeromq')
const spillway = require('..')
const { Client, Worker } = spillway
const h = require('./helpers')

const skip = h.available() ? false : `no spillway build at ${h.BUILD}`

test('the first edge is killed mid-task: the reply comes from the second', { skip, timeout: 20000 }, async (t) => {
  const a = await h.startEdge('A')
  const b = await h.startEdge('B')
  const holder = new Worker({ edge: a.backend, service: 'work', handler: () => new Promise(() => {}) })
  const server = new Worker({ edge: b.backend, service: 'work', handler: async (body) => `B: ${body}` })
  const client = new Client({ edges: [a.frontend, b.frontend] })
  t.after(async () => {
    await client.close()
    await holder.stop({ timeout: 100 })
    await server.stop({ timeout: 100 })
    await a.kill()
    await b.kill()
  })
  await Promise.all([holder.start(), server.start()])
  await Promise.all([holder.accepted, server.accepted])
  const call = client.submit('work', 'survive', { timeout: 10000 })
  await a.waitFor("the task at A's worker", (s) => s.services.work.running === '1')
  const started = Date.now()
  await a.kill('SIGKILL')
  assert.equal(String(await call), 'B: survive')
  const took = Date.now() - started
  assert.ok(took < 4000, `failover took ${took} ms`)
  assert.deepEqual(client.edges.map((e) => e.state), ['down', 'up'])
  assert.equal(String(await client.submit('work', 'next', { timeout: 5000 })), 'B: next')
  assert.equal((await b.stats()).edge.done, '2')
})

test('a draining edge: new requests and, at its end, held ones go to the next', { skip, timeout: 20000 }, async (t) => {
  const a = await h.startEdge('DA', '--drain-timeout-ms', '1000')
  const b = await h.startEdge('DB')
  const holder = new Worker({ edge: a.backend, service: 'work', handler: () => new Promise(() => {}) })
  const server = new Worker({ edge: b.backend, service: 'work', slots: 2, handler: async (body) => `B: ${body}` })
  const client = new Client({ edges: [a.frontend, b.frontend] })
  t.after(async () => {
    await client.close()
    await holder.stop({ timeout: 100 })
    await server.stop({ timeout: 100 })
    await a.kill()
    await b.kill()
  })
  await Promise.all([holder.start(), server.start()])
  await Promise.all([holder.accepted, server.accepted])
  const held = client.submit('work', 'held', { timeout: 10000 })
  await a.waitFor("the task at A's worker", (s) => s.services.work.running === '1')
  const operator = new Client({ edges: [a.frontend] })
  assert.match(String(await operator.submit('spillway.drain', '', { timeout: 5000 })), /^draining/)
  await operator.close()
  assert.equal(String(await client.submit('work', 'new', { timeout: 5000 })), 'B: new')
  assert.equal(String(await held), 'B: held')
  await a.proc.exited
  assert.equal((await b.stats()).edge.done, '2')
})

// A fake edge: a ROUTER bound to a free port, its messages read one by one.
async function fakeEdge (t) {
  const port = await h.freePort()
  const router = new zmq.Router({ linger: 0 })
  await router.bind(`tcp://127.0.0.1:${port}`)
  t.after(() => router.close())
  return { router, endpoint: `tcp://127.0.0.1:${port}` }
}

function u64 (n) {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

const SPW2 = Buffer.from('SPW2')
test('a client of one edge sends its request again when the edge comes back', { timeout: 10000 }, async (t) => {
  const port = await h.freePort()
  const endpoint = `tcp://127.0.0.1:${port}`
  let router = new zmq.Router({ linger: 0 })
  await router.bind(endpoint)
  const client = new Client(endpoint)
  t.after(() => { client.close(); router.close() })
  const call = client.submit('svc', 'again', { timeout: 8000 })
  const [, ...first] = await router.receive()
  assert.equal(first[2].toString('hex'), '0000000000000001')
  router.close() // the edge dies holding it
  await h.within(waitState(client, 0, 'down'), 5000, 'the edge down')
  router = new zmq.Router({ linger: 0 })
  for (let tries = 0; ; tries++) {
    try {
      await router.bind(endpoint)
      break
    } catch (error) {
      if (tries > 100) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const [identity, ...again] = await router.receive()
  assert.equal(again[2].toString('hex'), '0000000000000001')
  assert.equal(again[5].toString(), 'again')
  assert.ok(again[4].readUInt32BE(0) < first[4].readUInt32BE(0))
  await router.send(reply(identity, 1, 0, Buffer.from('back')))
  assert.equal(String(await call), 'back')
})

// Resolves once the client's edge i is in state.
async function waitState (client, i, state) {
  while (client.edges[i].state !== state) await new Promise((resolve) => setTimeout(resolve, 10))
}

const reply = (identity, id, status, ...body) => [identity, SPW2, Buffer.from([2]), u64(id), Buffer.from([status]), ...body]

test('the wire: REQUEST frames, ids, one reply per id, malformed replies dropped', { timeout: 10000 }, async (t) => {
  const fake = await fakeEdge(t)
  const client = new Client({ edges: [fake.endpoint] })
  t.after(() => client.close())
  const first = client.submitFrames('svc', ['a', Buffer.from([0, 1])], { timeout: 5000 })
  const second = client.submit('', 'b') // the default service, no deadline
  const [identity, ...req1] = await fake.router.receive()
  const [, ...req2] = await fake.router.receive()
  assert.deepEqual(req1.slice(0, 4).map((f) => f.toString('hex')), ['53505732', '01', '0000000000000001', Buffer.from('svc').toString('hex')])
  const left = req1[4].readUInt32BE(0)
  assert.ok(left >= 4900 && left <= 5000, `timeout frame ${left}`)
  assert.deepEqual(req1.slice(5).map((f) => f.toString('hex')), ['61', '0001'])
  assert.equal(req2[2].toString('hex'), '0000000000000002')
  assert.equal(req2[3].length, 0) // "": the edge's default service
  assert.equal(req2[4].readUInt32BE(0), 0)
  assert.equal(req2[5].toString(), 'b')

  // Malformed, unknown and out-of-order replies: only well-formed ones count.
  await fake.router.send([identity, Buffer.from('SPW1'), Buffer.from([2]), u64(2), Buffer.from([0]), Buffer.from('bad header')])
  await fake.router.send([identity, SPW2, Buffer.from([2]), Buffer.from([2]), Buffer.from([0]), Buffer.from('short id')])
  await fake.router.send([identity, SPW2, Buffer.from([2]), u64(2)])
  await fake.router.send(reply(identity, 99, 0, Buffer.from('nobody asked')))
  await fake.router.send(reply(identity, 2, 0, Buffer.from('second')))
  await fake.router.send(reply(identity, 2, 0, Buffer.from('second again')))
  await fake.router.send(reply(identity, 1, 6, Buffer.from('it broke')))
  await fake.router.send(reply(identity, 1, 0, Buffer.from('too late')))
  assert.equal(String(await second), 'second')
  await assert.rejects(first, (e) => e instanceof spillway.TaskError && e.message === 'it broke')
  // An unknown status is a plain SpillwayError.
  const third = client.submit('svc', 'c', { timeout: 5000 })
  const [, ...req3] = await fake.router.receive()
  assert.equal(req3[2].toString('hex'), '0000000000000003')
  await fake.router.send(reply(identity, 3, 42, Buffer.from('news')))
  await assert.rejects(third, (e) => e.constructor === spillway.SpillwayError && e.status === 'unknown-42' && e.code === 42)
  assert.equal(client.outstanding, 0)
})

test('the wire: busy is not delivered, the edge gets nothing more, same id elsewhere', { timeout: 10000 }, async (t) => {
  const one = await fakeEdge(t)
  const two = await fakeEdge(t)
  const client = new Client({ edges: [one.endpoint, two.endpoint] })
  t.after(() => client.close())
  const call = client.submit('svc', 'x', { timeout: 5000 })
  const [identity1, ...req] = await one.router.receive()
  assert.equal(req[2].toString('hex'), '0000000000000001')
  await one.router.send(reply(identity1, 1, 7, Buffer.from('edge draining: send it to another edge')))
  const [identity2, ...again] = await two.router.receive()
  assert.equal(again[2].toString('hex'), '0000000000000001')
  assert.ok(again[4].readUInt32BE(0) <= req[4].readUInt32BE(0))
  await two.router.send(reply(identity2, 1, 0, Buffer.from('from two')))
  assert.equal(String(await call), 'from two')
  assert.equal(client.edges[0].state, 'draining')
  const next = client.submit('svc', 'y', { timeout: 5000 })
  const [, ...req2] = await two.router.receive()
  assert.equal(req2[2].toString('hex'), '0000000000000002')
  await two.router.send(reply(identity2, 2, 0, Buffer.from('two again')))
  assert.equal(String(await next), 'two again')
})
