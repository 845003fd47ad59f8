// Secrets written inside values rather than under secret-looking names: a password in a URL
// (`http://user:pass@host/`), or the argument after a secret-looking option (`--password X`,
// `--api-token=X`), a secret-looking name's value (`PGPASSWORD=X`, `password=X` in a connection
// string, `?api_key=X` in a URL) or an HTTP credential (`Bearer X`, `Authorization: Basic X`).
// Views for roles below admin and every log line and event show them redacted.

export const redactedValue = '(redacted)';

// Every pattern runs in time linear in its text: a name is matched whole at once (a lookahead
// and a back-reference, which are never backtracked into), its secret word is found by a
// lookahead of its own, and a scheme starts only where a word starts. Texts reach these on the
// node's event loop (every event, every answer to a role below admin), so a long output with
// many secret-looking words must not cost time quadratic in its length.

/** The words that make a name secret-looking. */
const secretWords = 'pass|secret|token|key|credential|auth|private';
/** An option whose name says its value is a secret. */
const optionNameRe = /^-{1,2}[A-Za-z0-9_.-]*$/;
const secretWordRe = new RegExp(secretWords, 'i');
const isSecretOption = (a: string): boolean => optionNameRe.test(a) && secretWordRe.test(a);
/** `scheme://user:password@`: the password part. */
const urlPasswordRe = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]+@/gi;
/** `--secret-option=value` or `--secret-option value` inside a text. */
const optionInTextRe = new RegExp(`(^|\\s)(-{1,2}(?=[A-Za-z0-9_.-]*?(?:${secretWords}))(?=([A-Za-z0-9_.-]*))\\3)(=|\\s+)("[^"]*"|'[^']*'|\\S+)`, 'gi');
/** `NAME=value` whose name looks secret, at the start of a word, a query parameter or a list item: the value. */
const assignmentRe = new RegExp(`(^|[\\s"'?&;,])(?=[A-Za-z0-9_.]*?(?:pwd|${secretWords}))(?=([A-Za-z0-9_.]*))\\2=("[^"]*"|'[^']*'|[^\\s"'&;,]+)`, 'gi');
/** An HTTP credential: `Bearer X`, or the value of an Authorization header (`Authorization: Basic X`). */
const httpCredentialRe = /(\bBearer\s+|\bAuthorization:\s*[A-Za-z]+\s+)[A-Za-z0-9._~+/=-]+/gi;

/** A text with URL passwords, secret options' and secret-looking names' values and HTTP credentials redacted. */
export function redactSecretText(s: string): string {
  if (!s.includes('://') && !s.includes('-') && !s.includes('=') && !/bearer|authorization/i.test(s)) return s;
  return s.replace(urlPasswordRe, `$1${redactedValue}@`)
    .replace(optionInTextRe, (_m, pre: string, opt: string, _name: string, sep: string) => `${pre}${opt}${sep}${redactedValue}`)
    .replace(assignmentRe, (m, pre: string, name: string, value: string) => (value === redactedValue ? m : `${pre}${name}=${redactedValue}`))
    .replace(httpCredentialRe, `$1${redactedValue}`);
}

/** An argument list with the value after each secret option, `--secret=value` values and URL passwords redacted. */
export function redactSecretArgs(args: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  let next = false;
  for (const a of args) {
    if (typeof a !== 'string') { out.push(a); next = false; continue; }
    if (next) { out.push(redactedValue); next = false; continue; }
    const eq = a.indexOf('=');
    if (a.startsWith('-') && eq > 0 && isSecretOption(a.slice(0, eq))) { out.push(`${a.slice(0, eq)}=${redactedValue}`); continue; }
    if (isSecretOption(a)) { out.push(a); next = true; continue; }
    out.push(redactSecretText(a));
  }
  return out;
}
