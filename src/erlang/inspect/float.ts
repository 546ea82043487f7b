/**
 * Floats as Elixir 1.14 on OTP 25 prints them: integral values in [1, 1e16) as `123.0`, everything else
 * with the shortest digits that read back to the same double (`0.1`, `1.0e-7`, `1.0e16`) laid out as
 * `io_lib_format:fwrite_g/1` lays them out.
 */

export function formatFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  if (!Number.isFinite(x)) {
    // The BEAM has no NaN or infinity, so no decoded term holds one; say what it is rather than guess.
    throw new RangeError(`inspect: ${x} is not an Erlang float (the BEAM has no NaN or infinity)`);
  }
  const a = Math.abs(x);
  const sign = x < 0 ? '-' : '';
  if (a >= 1 && a < 1e16 && Number.isInteger(a)) return `${sign}${a.toFixed(0)}.0`;

  // toExponential() without an argument gives the shortest round-trip digits, like Erlang's Ryu.
  const [mantissa, expPart] = a.toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const len = digits.length;
  // Position of the decimal point counted from the first digit: value = 0.DIGITS * 10^place.
  const place = Number(expPart) + 1;
  return sign + layout(place, digits, len);
}

function layout(place: number, s: string, len: number): string {
  if (place === 0) return '0.' + s;
  if (place > 0 && place < len) return s.slice(0, place) + '.' + s.slice(place);
  const expText = String(place - 1);
  const expCost = expText.length + 1 + (len === 1 ? 2 : 1);
  if (place < 0) {
    return 2 - place <= expCost ? '0.' + '0'.repeat(-place) + s : withExponent(expText, s);
  }
  // place >= len: a whole number. Elixir already printed those below 1e16, which are all below 2^53, so
  // here the plain form would only be chosen below 2^53: keep fwrite_g's rule anyway for fidelity.
  return place - len + 2 <= expCost && Math.abs(Number(s) * 10 ** (place - len)) < 2 ** 53
    ? s + '0'.repeat(place - len) + '.0'
    : withExponent(expText, s);
}

function withExponent(expText: string, s: string): string {
  return s.length === 1 ? `${s}.0e${expText}` : `${s[0]}.${s.slice(1)}e${expText}`;
}
