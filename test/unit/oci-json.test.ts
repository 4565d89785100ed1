// parseJson / stringifyJson: JSON.parse's results, exact 64-bit integers, positioned errors.
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, containsBigInt, parseJson, stringifyJson } from '../../src/oci/json';

function syntaxError(text: string): string {
  try {
    parseJson(text);
  } catch (err) {
    expect(err).toBeInstanceOf(JsonSyntaxError);
    return (err as Error).message;
  }
  throw new Error('parsed');
}

describe('parseJson', () => {
  it('gives what JSON.parse gives when no integer is beyond 2^53', () => {
    const texts = [
      '{"a":[1,2.5,-0,1e3,true,false,null,"x\\u00e9\\n\\"\\/"],"b":{}}',
      '  [ ]  ',
      '"\\ud83d\\ude00"',
      '9007199254740991',
      '{"digits":"12345678901234567890","f":0.12345678901234567890}', // 16+ digits, but no unsafe integer
    ];
    for (const t of texts) expect(parseJson(t)).toEqual(JSON.parse(t));
  });

  it('returns unsafe integers as exact bigints, everything else as numbers', () => {
    const doc = parseJson('{"max":18446744073709551615,"i64":-9223372036854775808,"safe":9007199254740991,"two53":9007199254740992,"f":1.5e300,"small":[1,2]}') as Record<string, unknown>;
    expect(doc.max).toBe(18446744073709551615n);
    expect(doc.i64).toBe(-9223372036854775808n);
    expect(doc.safe).toBe(9007199254740991);
    expect(doc.two53).toBe(9007199254740992n);
    expect(doc.f).toBe(1.5e300);
    expect(doc.small).toEqual([1, 2]);
    expect(containsBigInt(doc)).toBe(true);
    expect(containsBigInt({ a: [1, { b: 2 }] })).toBe(false);
  });

  it('keeps "__proto__" an own property, as JSON.parse does', () => {
    const doc = parseJson('{"__proto__":{"polluted":1},"n":18446744073709551615}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.keys(doc)).toEqual(['__proto__', 'n']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('says where and why the text is not JSON', () => {
    expect(syntaxError('{]')).toBe("unexpected token ']' at line 1 column 2");
    expect(syntaxError('')).toBe('unexpected end of JSON input at line 1 column 1');
    expect(syntaxError('{"a": 1,\n "b": tru}')).toBe("unexpected token '}' at line 2 column 10");
    expect(syntaxError('[1, 2,]')).toBe("unexpected token ']' at line 1 column 7");
    expect(syntaxError('{"a": 01}')).toBe("unexpected token '1' at line 1 column 8");
    expect(syntaxError('{"a": "x\ny"}')).toBe("bad control character '\\u000a' in string at line 1 column 9");
    expect(syntaxError('{"a": "\\x"}')).toBe("bad escape '\\x' in string at line 1 column 8");
    expect(syntaxError('{"a": "abc')).toBe('unterminated string at line 1 column 7');
    expect(syntaxError('{} {}')).toBe("unexpected token '{' at line 1 column 4");
    expect(syntaxError('\ufeff{}')).toBe("unexpected token '\\ufeff' at line 1 column 1");
    expect(syntaxError('{"a": 1.}')).toBe("unexpected token '}' at line 1 column 9");
    expect(syntaxError('[18446744073709551615,]')).toBe("unexpected token ']' at line 1 column 23");
    expect(syntaxError('['.repeat(5000))).toBe('too deeply nested (more than 2000 levels) at line 1 column 2001');
    // Valid JSON that JSON.parse accepts, 10,000 levels deep: refused before it is walked.
    expect(syntaxError('{"a":'.repeat(10000) + '1' + '}'.repeat(10000))).toBe('too deeply nested (more than 2000 levels) at line 1 column 10001');
    expect(() => parseJson('["[[[[\\"", ' + '['.repeat(1998) + ']'.repeat(1998) + ']')).not.toThrow(); // brackets in strings do not count
  });
});

describe('stringifyJson', () => {
  it('writes bigints as JSON integers and round-trips', () => {
    const text = '{"rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1024}],"neg":-9223372036854775808}';
    const doc = parseJson(text);
    expect(stringifyJson(doc)).toBe(text);
    expect(stringifyJson(doc, 2)).toBe(JSON.stringify(JSON.parse(text), null, 2).replace('18446744073709552000', '18446744073709551615').replace('-9223372036854776000', '-9223372036854775808'));
  });

  it('is JSON.stringify for documents without bigints, strings that look like the marker included', () => {
    const doc = { s: '\u0000abc:123', n: 1, a: [null, true] };
    expect(stringifyJson(doc)).toBe(JSON.stringify(doc));
    expect(stringifyJson({ s: '\u0000abc:123', b: 1n })).toBe('{"s":"\\u0000abc:123","b":1}');
  });
});
