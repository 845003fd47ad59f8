// The `lsb` resource type's private properties (an LSB init script, as Pacemaker's lsb class):
//
//   script   NAME, required: the init script /etc/init.d/NAME (the init directory is a start flag
//            of clusterd, --lsb-dir, for tests)
//
// Pure checks, config time; whether the script exists is checked when the resource is saved.

import { clusterError, fail, ok, type Result } from './errors.js';
import type { PrivProps } from './types.js';

/** A file name in the init directory, never a path. */
const scriptRe = /^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,63}$/;

export const lsbPrivKeys = ['script'] as const;

export function checkLsbPriv(resource: string, priv: PrivProps): Result<void> {
  const bad = (key: string, message: string, hint?: string) =>
    fail<void>(clusterError('BAD_PROPERTY', `private property ${key} of lsb resource '${resource}' ${message}`, hint, `resources.${resource}.priv.${key}`));
  for (const key of Object.keys(priv)) {
    if (!(lsbPrivKeys as readonly string[]).includes(key)) return bad(key, 'is not one of the lsb type\'s', `lsb private properties: ${lsbPrivKeys.join(', ')}`);
  }
  if (!Object.hasOwn(priv, 'script')) return bad('script', 'is required', 'the init script\'s name in /etc/init.d, for example script: nginx');
  if (typeof priv.script !== 'string' || !scriptRe.test(priv.script)) {
    return bad('script', `must be the name of a script in /etc/init.d (letters, digits, _.@+-; no path), not ${JSON.stringify(priv.script)}`);
  }
  return ok(undefined);
}

/** The script's name; throws (with checkLsbPriv's words) when it would be refused. */
export function lsbScriptName(resource: string, priv: PrivProps): string {
  const checked = checkLsbPriv(resource, priv);
  if (!checked.ok) throw new Error(checked.error.message);
  return priv.script as string;
}
