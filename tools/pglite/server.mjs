#!/usr/bin/env node
// PostgreSQL wire-protocol server in front of PGlite (PostgreSQL 17 in WASM) with TimescaleDB.
//
// Usage:
//   node server.mjs [--port N] [--host ADDR] [--data-dir DIR] [--no-timescaledb]
//                   [--conn-wait-ms N] [--exit-on-stdin-close]
//
// Environment fallbacks: PGLITE_PORT, PGLITE_HOST, PGLITE_DATA_DIR, PGLITE_CONN_WAIT_MS.
// Port 0 (the default) picks a free port. Once listening, one line is printed on stdout:
//   READY port=NNNN host=127.0.0.1 timescaledb=2.23.0 startup_ms=NNNN
// Diagnostics go to stderr.
//
// Design (see README.md):
//   * PGlite is a single backend session. Exactly one client connection owns it at a time; other
//     connections wait (up to --conn-wait-ms) and are then refused with SQLSTATE 53300.
//   * Every engine call goes through one promise queue, so calls never interleave.
//   * Frontend bytes are accumulated and split into complete messages by their length prefix before
//     they reach the engine, so batches of any size (well beyond 64 KiB) are fine.
//   * Startup/SSLRequest/GSSENCRequest/CancelRequest are handled here; authentication is completed
//     internally, the client sees trust authentication.
//   * COPY ... FROM STDIN would trap the WASM engine (it reads from a socket it does not have). The
//     harness emulates it: it answers CopyInResponse itself, collects the CopyData, then runs the
//     statement as COPY ... FROM '/dev/blob' with the data as PGlite's blob (text, csv and binary).
//     Only a COPY sent alone in a simple Query is emulated; COPY FROM STDIN inside a multi-statement
//     script or through Parse (extended protocol) is refused with SQLSTATE 0A000.
//   * When a client goes away the session is reset (Sync, ROLLBACK, DISCARD ALL) for the next one.
//   * DEBUG/LOG notices (PGlite runs with client_min_messages=debug3) are filtered out.

import net from 'node:net'
import process from 'node:process'
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const MAX_MESSAGE = 1024 * 1024 * 1024 // PostgreSQL's own limit for one message
const DROPPED_SEVERITIES = new Set(['DEBUG', 'LOG'])
const PGLITE_ABORT_WARNING = /^# \d+: aborting transaction \d+$/
// PGlite boots with odd session defaults (search_path=pg_catalog after RESET, client_min_messages=debug3,
// enable_seqscan=off, exit_on_error=on). Every connection starts from stock PostgreSQL values instead.
const SESSION_BASELINE = [
  'SET search_path TO "$user", public',
  'SET client_min_messages TO notice',
  'SET enable_seqscan TO on',
  'SET exit_on_error TO off',
]
// PGlite does not send ParameterStatus when these change; the harness asks and reports them itself.
const REPORTED_PARAMS = [
  'application_name', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone',
  'standard_conforming_strings', 'default_transaction_read_only',
]
const REPORT_QUERY = `SELECT ${REPORTED_PARAMS.map((p) => `current_setting('${p}')`).join(', ')}`
const COPY_FROM_STDIN = /\bcopy\b[^;]*?\bfrom\s+stdin\b/i

function stripComments(sql) {
  return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ')
}

/** True when the SQL text (comments ignored) contains COPY ... FROM STDIN. */
function isCopyFromStdin(sql) {
  return /stdin/i.test(sql) && COPY_FROM_STDIN.test(stripComments(sql))
}

const EMPTY_BLOB = new Blob([])
const COPY_REFUSAL =
  "DO $pglite_harness$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = " +
  "'COPY FROM STDIN is only supported by the PGlite harness as a lone statement in a simple query', " +
  "HINT = 'Send the COPY by itself without parameters (psycopg cursor.copy()).'; END $pglite_harness$"

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {
    port: Number(process.env.PGLITE_PORT ?? 0),
    host: process.env.PGLITE_HOST ?? '127.0.0.1',
    dataDir: process.env.PGLITE_DATA_DIR || undefined,
    timescaledb: true,
    connWaitMs: Number(process.env.PGLITE_CONN_WAIT_MS ?? 10000),
    exitOnStdinClose: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      if (i + 1 >= argv.length) fail(`missing value after ${arg}`)
      return argv[++i]
    }
    switch (arg) {
      case '--port': opts.port = Number(value()); break
      case '--host': opts.host = value(); break
      case '--data-dir': opts.dataDir = value(); break
      case '--conn-wait-ms': opts.connWaitMs = Number(value()); break
      case '--no-timescaledb': opts.timescaledb = false; break
      case '--exit-on-stdin-close': opts.exitOnStdinClose = true; break
      case '-h': case '--help':
        process.stdout.write(
          'node server.mjs [--port N] [--host ADDR] [--data-dir DIR] [--no-timescaledb] ' +
          '[--conn-wait-ms N] [--exit-on-stdin-close]\n')
        process.exit(0)
        break
      default: fail(`unknown argument: ${arg}`)
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('invalid port')
  if (!Number.isFinite(opts.connWaitMs) || opts.connWaitMs < 0) fail('invalid --conn-wait-ms')
  return opts
}

function fail(message) {
  process.stderr.write(`pglite-server: ${message}\n`)
  process.exit(2)
}

function log(message) {
  process.stderr.write(`pglite-server: ${message}\n`)
}

// ---------------------------------------------------------------- wire helpers

function message(type, body) {
  const out = Buffer.allocUnsafe(5 + body.length)
  out[0] = type.charCodeAt(0)
  out.writeInt32BE(body.length + 4, 1)
  body.copy(out, 5)
  return out
}

function cstr(s) {
  return Buffer.from(`${s}\0`, 'utf8')
}

function queryMessage(sql) {
  return message('Q', cstr(sql))
}

const SYNC = message('S', Buffer.alloc(0))
const DUMMY_PASSWORD = message('p', cstr('md5pglite-harness-no-password'))

function errorResponse(severity, code, text, hint) {
  const parts = [
    Buffer.from('S'), cstr(severity),
    Buffer.from('V'), cstr(severity),
    Buffer.from('C'), cstr(code),
    Buffer.from('M'), cstr(text),
  ]
  if (hint) parts.push(Buffer.from('H'), cstr(hint))
  parts.push(Buffer.from([0]))
  return message('E', Buffer.concat(parts))
}

function readyForQuery(status) {
  return message('Z', Buffer.from(status))
}

/** Split a backend byte stream into [type, fullMessageBuffer] pairs. */
function* backendMessages(buf) {
  let off = 0
  while (off + 5 <= buf.length) {
    const len = buf.readInt32BE(off + 1)
    const end = off + 1 + len
    if (len < 4 || end > buf.length) break
    yield [String.fromCharCode(buf[off]), buf.subarray(off, end)]
    off = end
  }
  if (off !== buf.length) log(`warning: ${buf.length - off} trailing backend bytes`)
}

/** Fields of an ErrorResponse/NoticeResponse message as {code: value}. */
function noticeFields(msg) {
  const fields = {}
  let off = 5
  while (off < msg.length && msg[off] !== 0) {
    const code = String.fromCharCode(msg[off])
    const end = msg.indexOf(0, off + 1)
    if (end < 0) break
    fields[code] = msg.toString('utf8', off + 1, end)
    off = end + 1
  }
  return fields
}

// ---------------------------------------------------------------- engine

class EngineDead extends Error {}

class Engine {
  constructor(db, dataDir) {
    this.db = db
    this.dataDir = dataDir
    this.tail = Promise.resolve()
    this.txStatus = 'I'
    this.dead = false
    this.owner = null
    this.waiters = []
    this.reported = new Map() // ParameterStatus values the current client has been told
    this.paramsDirty = false // a SET/RESET/... ran since the last report
    this.changedInTx = false // a SET ran inside the current transaction (COMMIT/ROLLBACK may revert it)
  }

  /** Run fn() after every previously queued engine call has finished. */
  run(fn) {
    const result = this.tail.then(() => {
      if (this.dead) throw new EngineDead('engine is dead')
      return fn()
    })
    this.tail = result.catch(() => {})
    return result
  }

  /**
   * Send raw frontend bytes (complete messages only) and return the filtered backend bytes as a
   * private Buffer (the engine reuses its output buffer on the next call).
   */
  async exec(bytes) {
    let raw
    try {
      raw = await this.db.execProtocolRaw(bytes, { syncToFs: this.dataDir !== undefined })
    } catch (err) {
      this.dead = true
      log(`FATAL: engine trapped: ${err && err.stack ? err.stack : err}`)
      throw new EngineDead(String(err && err.message ? err.message : err))
    }
    return this.filter(Buffer.from(raw))
  }

  filter(buf) {
    let drop = false
    for (const [type, msg] of backendMessages(buf)) {
      if (type === 'Z') this.txStatus = String.fromCharCode(msg[5])
      else if (type === 'N' && this.isNoise(msg)) drop = true
      else if (type === 'C') this.noteCommand(msg.toString('latin1', 5, msg.length - 1))
    }
    if (!drop) return buf
    const kept = []
    for (const [type, msg] of backendMessages(buf)) {
      if (!(type === 'N' && this.isNoise(msg))) kept.push(msg)
    }
    return Buffer.concat(kept)
  }

  noteCommand(tag) {
    if (tag === 'SET' || tag === 'RESET' || tag === 'DISCARD ALL') {
      this.paramsDirty = true
      this.changedInTx = true
    } else if ((tag === 'COMMIT' || tag === 'ROLLBACK') && this.changedInTx) {
      this.paramsDirty = true
    }
  }

  /** ParameterStatus messages for reported settings whose value changed since the last report. */
  async reportParams() {
    if (this.txStatus === 'E') return Buffer.alloc(0) // no query possible until ROLLBACK
    const out = await this.exec(queryMessage(REPORT_QUERY))
    const changed = []
    for (const [type, msg] of backendMessages(out)) {
      if (type !== 'D') continue
      let off = 7
      for (const name of REPORTED_PARAMS) {
        const len = msg.readInt32BE(off)
        off += 4
        const value = len < 0 ? '' : msg.toString('utf8', off, off + len)
        off += Math.max(len, 0)
        if (this.reported.get(name) !== value) {
          this.reported.set(name, value)
          changed.push(message('S', Buffer.concat([cstr(name), cstr(value)])))
        }
      }
    }
    this.paramsDirty = false
    if (this.txStatus === 'I') this.changedInTx = false
    return Buffer.concat(changed)
  }

  /** exec() for client traffic: adds ParameterStatus messages before the final ReadyForQuery. */
  async execClient(bytes) {
    const out = await this.exec(bytes)
    const n = out.length
    const endsWithZ = n >= 6 && out[n - 6] === 0x5a && out.readInt32BE(n - 5) === 5
    if (!this.paramsDirty || !endsWithZ) return out
    const status = await this.reportParams()
    if (status.length === 0) return out
    return Buffer.concat([out.subarray(0, n - 6), status, out.subarray(n - 6)])
  }

  /**
   * End an emulated COPY FROM STDIN: the collected data becomes PGlite's /dev/blob device and the
   * statement runs as COPY ... FROM '/dev/blob' (PGlite's own COPY mechanism), in the same session.
   */
  async finishCopy(copy, failure) {
    if (failure !== null) {
      const sql = `DO $pglite_harness$ BEGIN RAISE EXCEPTION USING ERRCODE = '57014', MESSAGE = ${quoteLiteral(failure)}; END $pglite_harness$`
      return this.execClient(queryMessage(sql))
    }
    const sql = stripComments(copy.sql).replace(/\bfrom\s+stdin\b/i, "FROM '/dev/blob'")
    await this.db._handleBlob(new Blob(copy.chunks))
    try {
      return await this.execClient(queryMessage(sql))
    } finally {
      await this.db._handleBlob(EMPTY_BLOB)
    }
  }

  isNoise(msg) {
    const f = noticeFields(msg)
    const severity = (f.V ?? f.S ?? '').replace(/\d+$/, '')
    return DROPPED_SEVERITIES.has(severity) || PGLITE_ABORT_WARNING.test(f.M ?? '')
  }

  acquire(conn, waitMs) {
    if (this.owner === null) {
      this.owner = conn
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const waiter = { conn, resolve, timer: null }
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve(false)
      }, waitMs)
      this.waiters.push(waiter)
    })
  }

  dropWaiter(conn) {
    for (const w of this.waiters.filter((x) => x.conn === conn)) {
      clearTimeout(w.timer)
      w.resolve(false)
    }
    this.waiters = this.waiters.filter((w) => w.conn !== conn)
  }

  /** Reset the session left by `conn` and hand the engine to the next waiting connection. */
  release(conn) {
    if (this.owner !== conn) {
      this.dropWaiter(conn)
      return
    }
    this.run(async () => {
      await this.exec(SYNC)
      if (this.txStatus !== 'I') await this.exec(queryMessage('ROLLBACK'))
      const out = await this.exec(queryMessage('DISCARD ALL'))
      for (const [type, msg] of backendMessages(out)) {
        if (type === 'E') log(`warning: session reset failed: ${noticeFields(msg).M}`)
      }
    }).catch((err) => {
      if (!(err instanceof EngineDead)) log(`warning: session reset failed: ${err}`)
    }).finally(() => {
      this.owner = null
      const next = this.waiters.shift()
      if (next) {
        clearTimeout(next.timer)
        this.owner = next.conn
        next.resolve(true)
      }
    })
  }
}

// ---------------------------------------------------------------- connections

let connectionSeq = 0

class Connection {
  constructor(engine, socket, opts) {
    this.id = ++connectionSeq
    this.engine = engine
    this.socket = socket
    this.opts = opts
    this.chunks = []
    this.total = 0
    this.phase = 'startup' // startup -> waiting -> ready -> closed
    this.chain = Promise.resolve() // keeps this connection's work in arrival order
    this.copyIn = null // {sql, chunks} while a client streams COPY FROM STDIN data
    socket.setNoDelay(true)
    socket.on('data', (chunk) => this.onData(chunk))
    socket.on('error', (err) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') log(`conn ${this.id}: ${err.message}`)
    })
    socket.on('close', () => this.onClose())
  }

  write(buf) {
    if (this.phase !== 'closed' && buf.length > 0 && !this.socket.destroyed) this.socket.write(buf)
  }

  fatal(code, text, hint) {
    this.write(errorResponse('FATAL', code, text, hint))
    this.socket.end()
    this.onClose()
  }

  onClose() {
    if (this.phase === 'closed') return
    const wasReady = this.phase === 'ready' || this.phase === 'handshake'
    const wasWaiting = this.phase === 'waiting'
    this.phase = 'closed'
    if (wasReady || wasWaiting) this.engine.release(this)
  }

  onData(chunk) {
    if (this.phase === 'closed') return
    this.chunks.push(chunk)
    this.total += chunk.length
    this.pump()
  }

  /** Take every complete message out of the buffered bytes and queue it for processing. */
  pump() {
    if (this.phase === 'waiting' || this.phase === 'handshake' || this.phase === 'closed') return
    const untyped = this.phase === 'startup'
    const headerLen = untyped ? 4 : 5
    if (this.total < headerLen) return
    let buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.total)
    this.chunks = [buf]
    const messages = []
    let off = 0
    while (off + headerLen <= buf.length) {
      const len = untyped ? buf.readInt32BE(off) : buf.readInt32BE(off + 1)
      const size = untyped ? len : len + 1
      if (len < 4 || len > MAX_MESSAGE || (untyped && len < 8)) {
        this.fatal('08P01', `invalid frontend message length ${len}`)
        return
      }
      if (off + size > buf.length) break
      messages.push(buf.subarray(off, off + size))
      off += size
      if (untyped) break // after the startup packet the framing changes; pump() again later
    }
    if (off > 0) {
      buf = buf.subarray(off)
      this.chunks = buf.length ? [buf] : []
      this.total = buf.length
    }
    if (messages.length === 0) return
    if (untyped) {
      this.handleUntyped(messages[0])
    } else {
      this.enqueue(messages)
    }
  }

  handleUntyped(msg) {
    const code = msg.readInt32BE(4)
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.write(Buffer.from('N'))
      this.pump()
      return
    }
    if (code === CANCEL_REQUEST) {
      // Queries run synchronously inside WASM; there is nothing to cancel.
      this.socket.end()
      this.phase = 'closed'
      return
    }
    const major = code >>> 16
    if (major !== 3) {
      this.fatal('0A000', `unsupported frontend protocol ${major}.${code & 0xffff}`)
      return
    }
    const params = {}
    const parts = msg.toString('utf8', 8).split('\0')
    for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]] = parts[i + 1]
    this.startup(params)
  }

  async startup(params) {
    this.phase = 'waiting'
    const granted = await this.engine.acquire(this, this.opts.connWaitMs)
    if (this.phase === 'closed') return // onClose() already released or dropped us
    if (!granted) {
      this.write(errorResponse('FATAL', '53300',
        'the PGlite harness serves one connection at a time and another connection is open',
        'Close the other connection first (PGlite is a single-session engine).'))
      this.phase = 'closed'
      this.socket.end()
      return
    }
    this.phase = 'handshake'
    try {
      const reply = await this.engine.run(() => this.handshake(params))
      if (this.phase === 'closed') return
      this.write(reply.bytes)
      if (reply.ok) {
        this.phase = 'ready'
        this.pump()
      } else {
        this.socket.end()
        this.onClose()
      }
    } catch (err) {
      this.engineFailure(err)
    }
  }

  async handshake(params) {
    const startupBody = Buffer.concat([
      Buffer.from([0, 3, 0, 0]),
      cstr('user'), cstr('postgres'), cstr('database'), cstr('template1'),
      Buffer.from([0]),
    ])
    const startupMsg = Buffer.allocUnsafe(4 + startupBody.length)
    startupMsg.writeInt32BE(startupMsg.length, 0)
    startupBody.copy(startupMsg, 4)
    let out = await this.engine.exec(startupMsg)
    const first = [...backendMessages(out)]
    if (first.length && first[0][0] === 'R' && first[0][1].readInt32BE(5) !== 0) {
      out = await this.engine.exec(DUMMY_PASSWORD) // PGlite asks for md5; any password is accepted
    }
    const msgs = [...backendMessages(out)]
    const errors = msgs.filter(([t]) => t === 'E')
    if (errors.length || msgs.length === 0 || msgs[msgs.length - 1][0] !== 'Z') {
      return { ok: false, bytes: errors.length ? errors[0][1] : errorResponse('FATAL', '08006', 'engine handshake failed') }
    }
    const head = msgs.slice(0, -1).map(([, m]) => m)
    this.engine.reported.clear()
    for (const [type, m] of msgs) {
      if (type !== 'S') continue
      const nameEnd = m.indexOf(0, 5)
      this.engine.reported.set(m.toString('utf8', 5, nameEnd), m.toString('utf8', nameEnd + 1, m.length - 1))
    }
    // Apply the baseline, then the client's startup parameters (PGlite ignores those in the packet).
    const sets = [...SESSION_BASELINE, ...startupSettings(params)]
    {
      const res = await this.engine.exec(queryMessage(sets.join('; ')))
      for (const [type, m] of backendMessages(res)) {
        if (type === 'S') head.push(m)
        if (type === 'E') {
          const f = noticeFields(m)
          await this.engine.exec(queryMessage('DISCARD ALL'))
          return { ok: false, bytes: errorResponse('FATAL', f.C ?? '22023', f.M ?? 'invalid startup parameter') }
        }
      }
      head.push(await this.engine.reportParams())
      this.engine.changedInTx = false
    }
    return { ok: true, bytes: Buffer.concat([...head, readyForQuery(this.engine.txStatus)]) }
  }

  enqueue(messages) {
    this.chain = this.chain.then(() => this.process(messages)).catch((err) => this.engineFailure(err))
  }

  async process(messages) {
    if (this.phase !== 'ready') return
    let batch = []
    let batchLen = 0
    const flush = async () => {
      if (batch.length === 0) return
      const bytes = batch.length === 1 ? batch[0] : Buffer.concat(batch, batchLen)
      batch = []
      batchLen = 0
      const out = await this.engine.run(() => this.engine.execClient(bytes))
      this.write(out)
    }
    for (let msg of messages) {
      const type = String.fromCharCode(msg[0])
      if (type === 'X') {
        await flush()
        this.socket.end()
        this.onClose()
        return
      }
      if (this.copyIn) {
        // COPY FROM STDIN in progress: collect the data, run it through /dev/blob at CopyDone.
        if (type === 'd') {
          this.copyIn.chunks.push(msg.subarray(5))
        } else if (type === 'c' || type === 'f' || (type !== 'H' && type !== 'S')) {
          const copy = this.copyIn
          this.copyIn = null
          const failure = type === 'c' ? null : type === 'f'
            ? `COPY from stdin failed: ${msg.toString('utf8', 5, msg.length - 1)}`
            : `unexpected message type "${type}" during COPY from stdin`
          this.write(await this.engine.run(() => this.engine.finishCopy(copy, failure)))
        }
        continue
      }
      if (type === 'd' || type === 'c' || type === 'f') continue // stray COPY messages
      if (type === 'Q') {
        const sql = msg.toString('utf8', 5, msg.length - 1)
        if (isCopyFromStdin(sql)) {
          const single = !stripComments(sql).trim().replace(/;\s*$/, '').includes(';')
          if (!single) {
            msg = queryMessage(COPY_REFUSAL)
          } else if (this.engine.txStatus === 'E') {
            msg = queryMessage('SELECT 1') // fails with 25P02 like the COPY would
          } else {
            await flush()
            const binary = /\bbinary\b/i.test(stripComments(sql))
            this.copyIn = { sql, chunks: [] }
            // CopyInResponse: overall format, 0 columns (clients do not need the count to send data).
            this.write(message('G', Buffer.from([binary ? 1 : 0, 0, 0])))
            continue
          }
        }
      } else if (type === 'P') {
        const nameEnd = msg.indexOf(0, 5)
        const sqlEnd = msg.indexOf(0, nameEnd + 1)
        const sql = msg.toString('utf8', nameEnd + 1, sqlEnd)
        if (isCopyFromStdin(sql)) {
          msg = message('P', Buffer.concat([msg.subarray(5, nameEnd + 1), cstr(COPY_REFUSAL), Buffer.from([0, 0])]))
        }
      }
      batch.push(msg)
      batchLen += msg.length
      if (batchLen >= 8 * 1024 * 1024) await flush()
    }
    await flush()
  }

  engineFailure(err) {
    if (err instanceof EngineDead) {
      this.write(errorResponse('FATAL', 'XX000', `PGlite engine trapped and is unusable: ${err.message}`))
      this.socket.end()
      this.phase = 'closed'
      shutdown(70)
      return
    }
    log(`conn ${this.id}: internal error: ${err && err.stack ? err.stack : err}`)
    this.fatal('XX000', `pglite harness internal error: ${err}`)
  }
}

function quoteIdent(name) {
  return `"${name.replaceAll('"', '""')}"`
}

function quoteLiteral(value) {
  return `'${value.replaceAll("'", "''")}'`
}

/** SET statements for the GUCs a client passed in its startup packet (including `options`). */
function startupSettings(params) {
  const settings = []
  for (const [key, value] of Object.entries(params)) {
    if (key === 'user' || key === 'database' || key === 'replication' || key === 'options') continue
    settings.push([key, value])
  }
  if (params.options) {
    // libpq splits on unescaped whitespace; a backslash escapes the next character.
    const words = []
    let cur = ''
    let esc = false
    for (const ch of params.options) {
      if (esc) { cur += ch; esc = false } else if (ch === '\\') esc = true
      else if (/\s/.test(ch)) { if (cur) words.push(cur); cur = '' } else cur += ch
    }
    if (cur) words.push(cur)
    for (let i = 0; i < words.length; i++) {
      let kv = null
      if (words[i] === '-c' && i + 1 < words.length) kv = words[++i]
      else if (words[i].startsWith('-c')) kv = words[i].slice(2)
      else if (words[i].startsWith('--')) kv = words[i].slice(2)
      if (kv && kv.includes('=')) {
        const eq = kv.indexOf('=')
        settings.push([kv.slice(0, eq).replaceAll('-', '_'), kv.slice(eq + 1)])
      }
    }
  }
  return settings.map(([k, v]) => `SET ${quoteIdent(k)} TO ${quoteLiteral(v)}`)
}

// ---------------------------------------------------------------- main

let server = null
let db = null
let shuttingDown = false

async function shutdown(code) {
  if (shuttingDown) return
  shuttingDown = true
  if (server) server.close()
  if (db && code === 0) {
    try { await db.close() } catch (err) { log(`warning: close failed: ${err}`) }
  }
  process.exit(code)
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const started = Date.now()
  db = await PGlite.create({
    dataDir: opts.dataDir,
    extensions: opts.timescaledb ? { timescaledb } : {},
  })
  let tsVersion = 'none'
  if (opts.timescaledb) {
    await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
    const res = await db.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    tsVersion = res.rows[0].extversion
  }
  // Reading /dev/blob without a blob throws inside the engine; an empty one reads as EOF.
  await db._handleBlob(EMPTY_BLOB)
  const engine = new Engine(db, opts.dataDir)
  server = net.createServer((socket) => new Connection(engine, socket, opts))
  server.on('error', (err) => {
    log(`FATAL: ${err.message}`)
    process.exit(1)
  })
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address()
    process.stdout.write(
      `READY port=${port} host=${opts.host} timescaledb=${tsVersion} startup_ms=${Date.now() - started}\n`)
  })
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => shutdown(0))
  if (opts.exitOnStdinClose) {
    process.stdin.on('end', () => shutdown(0))
    process.stdin.on('error', () => shutdown(0))
    process.stdin.resume()
  }
}

main().catch((err) => {
  log(`FATAL: failed to start: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
})
