// Imported before any AT Protocol code, so every module sees the patched functions.
//
// 1. Every server binds to 127.0.0.1: the official packages call listen(port) with no host,
//    which would bind every interface.
// 2. Name lookups never leave the machine: `localhost` and `*.peer.internal` (the app host the
//    tests serve client metadata from) answer 127.0.0.1; the placeholder hosts dev-env uses
//    (`*.invalid`) and every other name fail at once with ENOTFOUND.
import dns from 'node:dns'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'

const LOOPBACK = '127.0.0.1'

const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const first = args[0]
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]): put the host in if it is missing.
    if (typeof args[1] !== 'string') args.splice(1, 0, LOOPBACK)
    else args[1] = LOOPBACK
  } else if (first && typeof first === 'object' && !Array.isArray(first) && first.path === undefined) {
    args[0] = { ...first, host: LOOPBACK }
  } else if (first === undefined || typeof first === 'function') {
    args.unshift(0, LOOPBACK)
  }
  return origListen.apply(this, args)
}

export function localAddress(hostname) {
  const name = String(hostname || '').toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name === LOOPBACK || name.endsWith('.peer.internal')) return LOOPBACK
  if (net.isIP(name)) return name
  return null
}

function notFound(hostname) {
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname} (test peer: no lookups leave the machine)`)
  err.code = 'ENOTFOUND'
  err.errno = -3008
  err.syscall = 'getaddrinfo'
  err.hostname = hostname
  return err
}

function answer(hostname, options) {
  const address = localAddress(hostname)
  if (!address) return { err: notFound(hostname) }
  const family = net.isIP(address)
  const all = typeof options === 'object' && options !== null && options.all
  return { address, family, all }
}

dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  const r = answer(hostname, options)
  process.nextTick(() => {
    if (r.err) return callback(r.err)
    if (r.all) return callback(null, [{ address: r.address, family: r.family }])
    return callback(null, r.address, r.family)
  })
}

dns.promises.lookup = async function lookup(hostname, options) {
  const r = answer(hostname, options)
  if (r.err) throw r.err
  if (r.all) return [{ address: r.address, family: r.family }]
  return { address: r.address, family: r.family }
}

// DNS record queries (handle TXT lookups, etc.) have no local answer: refuse them without a query.
const refuse = (name) => Promise.reject(notFound(name))
for (const fn of ['resolve', 'resolve4', 'resolve6', 'resolveTxt', 'resolveCname', 'resolveAny']) {
  dns.promises[fn] = refuse
  dns[fn] = (name, ...rest) => {
    const cb = rest[rest.length - 1]
    process.nextTick(() => cb(notFound(name)))
  }
}
if (dns.promises.Resolver) {
  for (const fn of ['resolve', 'resolve4', 'resolve6', 'resolveTxt', 'resolveCname', 'resolveAny']) {
    dns.promises.Resolver.prototype[fn] = refuse
  }
}
if (dns.Resolver) {
  for (const fn of ['resolve', 'resolve4', 'resolve6', 'resolveTxt', 'resolveCname', 'resolveAny']) {
    dns.Resolver.prototype[fn] = function (name, ...rest) {
      const cb = rest[rest.length - 1]
      process.nextTick(() => cb(notFound(name)))
    }
  }
}

// ES modules that import { lookup } from 'node:dns' get the patched functions too.
syncBuiltinESMExports()
