// The AT Protocol test peer: PLC directory + official PDS (with its OAuth authorization server)
// + bsync + official App View, all on 127.0.0.1 and free ports, seeded with three accounts and a
// follow graph that the App View has indexed. Writes a JSON state file, then runs until SIGTERM,
// SIGINT or the end of stdin (its parent died), and stops exactly what it started.
//
//   node launcher.mjs --state /path/state.json --run-dir /path/dir
// Environment: PEER_NODE_MODULES (the installed npm tree), ELONARA_TEST_PG_ADMIN_URL (optional;
// else a private PostgreSQL cluster is started), PEER_PG_BIN (PostgreSQL binaries folder),
// NODE_EXTRA_CA_CERTS (read by Node at start: the test CA the app host's certificate chains to).
import './netguard.mjs'

import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

const started = Date.now()
const log = (...a) => console.log(`[peer +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a)

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

const statePath = path.resolve(arg('state') ?? '')
const runDir = path.resolve(arg('run-dir') ?? '')
if (!arg('state') || !arg('run-dir')) {
  console.error('usage: node launcher.mjs --state FILE --run-dir DIR')
  process.exit(2)
}
const nodeModules = process.env.PEER_NODE_MODULES
if (!nodeModules) {
  console.error('PEER_NODE_MODULES is not set (run tests/peer/install.sh)')
  process.exit(2)
}
const pgBin = process.env.PEER_PG_BIN || '/usr/lib/postgresql/15/bin'
fs.mkdirSync(runDir, { recursive: true })
// dev-env puts the PDS data and blob folders under os.tmpdir(): keep them in our run dir.
process.env.TMPDIR = path.join(runDir, 'tmp')
fs.mkdirSync(process.env.TMPDIR, { recursive: true })


// ---------------------------------------------------------------------------------------------
// What we started, stopped in reverse order.
const cleanups = []
let stopping = null

async function stop(code) {
  if (stopping) return stopping
  stopping = (async () => {
    log('stopping')
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, 10000))])
      } catch (err) {
        console.error('[peer] cleanup error:', err?.message ?? err)
      }
    }
    try {
      // Our data (PDS files, blobs, the private PostgreSQL cluster) goes with us.
      fs.rmSync(runDir, { recursive: true, force: true })
    } catch {}
    log('stopped')
    process.exit(code)
  })()
  return stopping
}

process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.on('SIGHUP', () => stop(0))
// Our parent holds our stdin open: when it dies, stdin ends, and so do we.
process.stdin.on('end', () => stop(0))
process.stdin.on('close', () => stop(0))
process.stdin.on('error', () => stop(0))
process.stdin.resume()
process.on('unhandledRejection', (err) => {
  console.error('[peer] unhandled rejection:', err)
})

// ---------------------------------------------------------------------------------------------
// PostgreSQL for the App View and bsync.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

const isRoot = process.getuid && process.getuid() === 0
function asPgOwner(cmd, args) {
  // initdb refuses to run as root: the private cluster belongs to the postgres user then.
  const full = path.join(pgBin, cmd)
  if (isRoot) return run('runuser', ['-u', 'postgres', '--', full, ...args])
  return run(full, args)
}

function psql(url, sql) {
  return run(path.join(pgBin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql])
}

async function setupPostgres() {
  const dbName = `elonara_peer_${process.pid}_${crypto.randomBytes(3).toString('hex')}`
  const adminUrl = process.env.ELONARA_TEST_PG_ADMIN_URL
  if (adminUrl) {
    await psql(adminUrl, `CREATE DATABASE ${dbName}`)
    cleanups.push(async () => psql(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`))
    const u = new URL(adminUrl)
    u.pathname = `/${dbName}`
    log('PostgreSQL: database', dbName, 'in the given cluster')
    return u.toString()
  }
  const pgdata = path.join(runDir, 'pgdata')
  const sock = path.join(runDir, 'pgsock')
  fs.mkdirSync(sock, { recursive: true })
  fs.chmodSync(runDir, 0o755)
  const port = await freePort()
  // initdb takes seconds; a copy of a cluster initialised once (kept beside the npm tree) does not.
  const template = path.join(path.dirname(nodeModules), `pg-template-${path.basename(path.dirname(pgBin))}`)
  if (fs.existsSync(path.join(template, 'PG_VERSION'))) {
    await run('cp', ['-a', template, pgdata])
  } else {
    fs.mkdirSync(pgdata, { recursive: true })
    if (isRoot) await run('chown', ['postgres:postgres', pgdata])
    await asPgOwner('initdb', ['-D', pgdata, '-U', 'peer', '--auth=trust', '-E', 'UTF8', '--no-sync'])
    const partial = `${template}.partial.${process.pid}`
    try {
      await run('cp', ['-a', pgdata, partial])
      fs.renameSync(partial, template)
    } catch {
      // Another launcher made it first, or the cache is read-only: initdb again next time.
      fs.rmSync(partial, { recursive: true, force: true })
    }
  }
  if (isRoot) await run('chown', ['postgres:postgres', sock])
  const opts = `-h 127.0.0.1 -p ${port} -k ${sock} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`
  // The cluster is ours from here on, even if start fails half-way.
  cleanups.push(() => asPgOwner('pg_ctl', ['-D', pgdata, '-m', 'fast', '-w', 'stop']))
  await asPgOwner('pg_ctl', ['-D', pgdata, '-l', path.join(pgdata, 'postgres.log'), '-w', '-t', '60', '-o', opts, 'start'])
  await psql(`postgres://peer@127.0.0.1:${port}/postgres`, `CREATE DATABASE ${dbName}`)
  log('PostgreSQL: private cluster on port', port)
  return `postgres://peer@127.0.0.1:${port}/${dbName}`
}

// ---------------------------------------------------------------------------------------------
const ACCOUNTS = ['alice', 'bob', 'carol']
const FOLLOWS = [
  ['bob', 'alice'],
  ['carol', 'alice'],
  ['alice', 'bob'],
]

const secret = () => crypto.randomBytes(12).toString('base64url')

// Only the dev-env pieces we compose (its index also loads Ozone, feed generators, seeds...):
// loading the npm tree is most of the start time.
async function loadModules() {
  const load = (rel) => import(pathToFileURL(path.join(nodeModules, rel)).href)
  const [{ TestPlc }, { TestBsync }, { TestBsky }, { TestPds }, { mockNetworkUtilities }, { AtpAgent }] =
    await Promise.all([
      load('@atproto/dev-env/dist/plc.js'),
      load('@atproto/dev-env/dist/bsync.js'),
      load('@atproto/dev-env/dist/bsky.js'),
      load('@atproto/dev-env/dist/pds.js'),
      load('@atproto/dev-env/dist/util.js'),
      load('@atproto/api/dist/index.js'),
    ])
  log('modules loaded')
  return { TestPlc, TestBsync, TestBsky, TestPds, mockNetworkUtilities, AtpAgent }
}

async function main() {
  // PostgreSQL starts (other processes) while this one loads the npm tree.
  const pgReady = setupPostgres()
  pgReady.catch(() => {})
  const devEnv = await loadModules()
  const { AtpAgent } = devEnv
  const dbUrl = await pgReady

  const plc = await devEnv.TestPlc.create({})
  cleanups.push(() => plc.close())
  log('PLC at', plc.url)

  const bsyncApiKey = secret()
  const bsync = await devEnv.TestBsync.create({ apiKeys: [bsyncApiKey], dbUrl, dbSchema: 'bsync' })
  cleanups.push(() => bsync.close())

  const pdsPort = await freePort()
  const bsky = await devEnv.TestBsky.create({
    plcUrl: plc.url,
    pdsPort,
    bsyncApiKey,
    bsyncUrl: bsync.url,
    repoProvider: `ws://localhost:${pdsPort}`,
    dbPostgresSchema: 'appview',
    dbPostgresUrl: dbUrl,
    redisHost: undefined,
  })
  cleanups.push(() => bsky.close())
  bsync.ctx.dataplaneClients = [bsky.ctx.dataplane]
  log('App View at', bsky.url, bsky.ctx.cfg.serverDid)

  const pds = await devEnv.TestPds.create({
    port: pdsPort,
    didPlcUrl: plc.url,
    bskyAppViewUrl: bsky.url,
    bskyAppViewDid: bsky.ctx.cfg.serverDid,
  })
  // The PDS closes before the App View (cleanups run in reverse), so the App View's firehose
  // subscription sees its upstream go away rather than the other way round.
  cleanups.push(() => pds.close())
  devEnv.mockNetworkUtilities(pds, bsky)
  log('PDS at', pds.url)

  // Seed accounts, app passwords and the follow graph through the PDS's public XRPC API.
  const accounts = {}
  const agents = {}
  for (const name of ACCOUNTS) {
    const agent = new AtpAgent({ service: pds.url })
    const handle = `${name}.test`
    const password = secret()
    await agent.createAccount({ email: `${name}@peer.invalid`, handle, password })
    const appPassword = (await agent.com.atproto.server.createAppPassword({ name: 'elonara-tests' })).data.password
    await agent.com.atproto.repo.putRecord({
      repo: agent.session.did,
      collection: 'app.bsky.actor.profile',
      rkey: 'self',
      record: { $type: 'app.bsky.actor.profile', displayName: name[0].toUpperCase() + name.slice(1) },
    })
    agents[name] = agent
    accounts[name] = { handle, did: agent.session.did, password, app_password: appPassword }
  }
  const follows = []
  for (const [from, to] of FOLLOWS) {
    const res = await agents[from].follow(accounts[to].did)
    follows.push({ from, to, uri: res.uri })
  }

  // Let the App View index everything before anyone reads it.
  await pds.processAll()
  const deadline = Date.now() + 30000
  for (;;) {
    await bsky.sub.processAll()
    const ok = await followGraphIndexed(bsky.url, accounts)
    if (ok) break
    if (Date.now() > deadline) throw new Error('App View did not index the seeded follow graph in 30 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  log('seeded and indexed')

  const state = {
    pid: process.pid,
    pds_url: pds.url,
    issuer: pds.url,
    pds_did: pds.ctx.cfg.service.did,
    plc_url: plc.url,
    appview_url: bsky.url,
    appview_did: bsky.ctx.cfg.serverDid,
    accounts,
    follows: follows.map(({ from, to }) => ({ from, to })),
    // The app host's certificate and the CA this PDS trusts (written by the Python side).
    tls: process.env.PEER_TLS_JSON ? JSON.parse(process.env.PEER_TLS_JSON) : null,
    follow_uris: Object.fromEntries(follows.map(({ from, to, uri }) => [`${from}->${to}`, uri])),
    started_at: new Date(started).toISOString(),
    start_seconds: (Date.now() - started) / 1000,
  }
  const tmp = `${statePath}.tmp-${process.pid}`
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 })
  fs.renameSync(tmp, statePath)
  cleanups.push(async () => fs.rmSync(statePath, { force: true }))
  log(`ready in ${state.start_seconds.toFixed(1)} s; state in ${statePath}`)
  console.log('PEER READY')
}

async function followGraphIndexed(appviewUrl, accounts) {
  for (const [from, to] of FOLLOWS) {
    const url = new URL('/xrpc/app.bsky.graph.getFollows', appviewUrl)
    url.searchParams.set('actor', accounts[from].did)
    const res = await fetch(url)
    if (!res.ok) return false
    const body = await res.json()
    if (!body.follows?.some((f) => f.did === accounts[to].did)) return false
  }
  return true
}

main().catch((err) => {
  console.error('[peer] failed to start:', err?.stack ?? err)
  stop(1)
})
