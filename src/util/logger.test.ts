import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChorusError } from '../errors.js';
import { errorFields, logServerError, type Logger } from './logger.js';

describe('errorFields and logServerError', () => {
  it("names a ChorusError's code and message and every cause it wraps, with their stacks", () => {
    const root = new Error('ECONNREFUSED 127.0.0.1:6379');
    const fields = errorFields(new ChorusError({ code: 'store_unavailable', message: 'The shared store cannot be reached.', cause: root }));
    assert.equal(fields['error'], 'The shared store cannot be reached.');
    assert.equal(fields['code'], 'store_unavailable');
    assert.match(String(fields['stack']), /ChorusError: The shared store/);
    const causes = fields['causes'] as Record<string, unknown>[];
    assert.equal(causes.length, 1);
    assert.equal(causes[0]!['message'], 'ECONNREFUSED 127.0.0.1:6379');
    assert.match(String(causes[0]!['stack']), /^Error: ECONNREFUSED/);
  });

  it('reads errors that crossed a worker boundary as plain objects, and values that are not errors', () => {
    assert.deepEqual(errorFields({ message: 'worker crashed', code: 'engine_failed' }), { error: 'worker crashed', code: 'engine_failed' });
    assert.deepEqual(errorFields('boom'), { error: 'boom' });
  });

  it('logs 5xx answers as errors and leaves 4xx answers alone', () => {
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, fields) => void logged.push([message, fields]) };
    logServerError(logger, { method: 'POST', path: '/v1/audio/speech' }, 400, new Error('client'));
    logServerError(logger, { method: 'POST', path: '/v1/audio/speech' }, 500, new Error('server'));
    assert.equal(logged.length, 1);
    assert.equal(logged[0]![1]!['error'], 'server');
    assert.equal(logged[0]![1]!['status'], 500);
  });
});
