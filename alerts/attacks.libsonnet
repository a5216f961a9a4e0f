// LogQL of the spread-out attacks on the auth service and of the account populations, for the security
// alert rules. The same definitions as `tracklog audit detect` (provisioning/audit/attacks.py), with the
// thresholds of tracklog.yaml's security.attacks; every count is per env and within attacks.window.
// Loki 2.2's LogQL has no offset modifier, so the failure-surge baseline is the longer range without the window.
local q = import '../dashboards/lib/queries.libsonnet';

local reSpecial = { [ch]: true for ch in std.stringChars('\\.^$*+?()[]{}|') };
// A string as a regex matching itself.
local reEscape(s) = std.join('', [if std.objectHas(reSpecial, ch) then '\\' + ch else ch for ch in std.stringChars(s)]);

{
  // The login records of the auth service, parsed; `extra` adds label filters.
  logins(c, stream, extra=''):: '%s %s | event_name="auth.login"%s' % [stream, q.json, extra],
  failures(c, stream, extra=''):: $.logins(c, stream, ' | auth_outcome="failure"' + extra),

  // sum by (env[, by]) of the failures within the attack window (or `range`).
  count(c, expr, by='', range=null)::
    'sum by (%s) (count_over_time(%s [%s]))'
    % [std.join(', ', c.alertLabels + (if by == '' then [] else [by])), expr, if range == null then c.security.attacks.window else range],
  // How many distinct values of `label` the failures have, per env.
  distinct(c, expr, label)::
    'count by (%s) (%s)' % [std.join(', ', c.alertLabels), $.count(c, expr, label)],

  // The conditions, each a vector per env that exists only when it holds (its value: the first count).
  stuffing(c, stream)::
    local t = c.security.attacks.credential_stuffing;
    local failures = $.failures(c, stream);
    '%s >= %s and %s >= %s and (%s / %s) >= %s' % [
      $.distinct(c, failures, 'user_id'), c.num(t.accounts),
      $.distinct(c, failures, 'client_address'), c.num(t.addresses),
      $.count(c, $.failures(c, stream, ' | auth_reason="unknown_user"')), $.count(c, failures), c.num(t.unknown_user_share),
    ],
  unknownShare(c, stream)::
    '(%s / %s) >= %s' % [
      $.count(c, $.failures(c, stream, ' | auth_reason="unknown_user"')), $.count(c, $.failures(c, stream)),
      c.num(c.security.attacks.credential_stuffing.unknown_user_share),
    ],
  // Accounts with 1..attempts_per_account bad-password failures, and the addresses of bad-password failures.
  spraying(c, stream)::
    local t = c.security.attacks.password_spraying;
    local bad = $.failures(c, stream, ' | auth_reason="bad_password"');
    'count by (%s) (%s <= %s) >= %s and %s >= %s unless %s' % [
      std.join(', ', c.alertLabels), $.count(c, bad, 'user_id'), c.num(t.attempts_per_account), c.num(t.accounts),
      $.distinct(c, bad, 'client_address'), c.num(t.addresses), $.unknownShare(c, stream),
    ],
  surge(c, stream)::
    local t = c.security.attacks.failure_surge;
    local f = $.count(c, $.failures(c, stream));
    local n = $.count(c, $.logins(c, stream));
    local fb = $.count(c, $.failures(c, stream), range=t.baseline);
    local nb = $.count(c, $.logins(c, stream), range=t.baseline);
    // f/n > factor * (fb-f)/(nb-n), multiplied out: Loki 2.2.1's lexer misreads some binary minus signs
    // ("unexpected IDENTIFIER" depending on where the query's 1024-byte boundary falls), so there is none.
    // No earlier logins (nb = n): both sides equal, no alert.
    '%(f)s / %(n)s >= %(ratio)s and %(f)s >= %(failures)s and %(f)s * %(nb)s + %(k1)s * %(n)s * %(f)s > %(factor)s * %(n)s * %(fb)s'
    % { f: f, n: n, fb: fb, nb: nb, ratio: c.num(t.ratio), failures: c.num(t.failures), factor: c.num(t.factor),
        k1: c.num(t.factor - 1) }
    + ' unless (%s) unless (%s)' % [$.stuffing(c, stream), $.spraying(c, stream)],
  // Accounts with failures from >= addresses addresses and a success, within the window.
  spreadSuccess(c, stream)::
    '%s >= %s and %s' % [
      'count by (%s) (%s)' % [c.alertBy('user_id'), $.count(c, $.failures(c, stream), 'user_id, client_address')],
      c.num(c.security.attacks.spread_success_after_failures.addresses),
      $.count(c, $.logins(c, stream, ' | auth_outcome="success"'), 'user_id'),
    ],

  // A line filter keeping the login records of the named populations (security.populations: by role,
  // user-id pattern or list), or '' when one of them has no rule (it takes everyone not matched before).
  populationFilter(c, names)::
    local chosen = [p for p in c.security.populations if std.member(names, p.name)];
    local ruleless = [p for p in chosen if std.length(std.get(p, 'roles', []) + std.get(p, 'user_ids', []) + std.get(p, 'users', [])) == 0];
    local field(name) = '"%s":' % reEscape(name);
    local alts(values) = '(%s)' % std.join('|', values);
    local roles = std.flattenArrays([std.get(p, 'roles', []) for p in chosen]);
    local ids = std.flattenArrays([std.get(p, 'user_ids', []) for p in chosen]);
    local users = std.flattenArrays([std.get(p, 'users', []) for p in chosen]);
    local parts =
      (if roles != [] then ['%s(\\[[^\\]]*)?"%s"' % [field(c.security.role_field), alts([reEscape(r) for r in roles])]] else [])
      + (if ids != [] then ['%s"%s"' % [field('user.id'), alts(ids)]] else [])
      + (if users != [] then ['"user\\.(id|name)":"%s"' % alts([reEscape(u) for u in users])] else []);
    if std.member(names, 'all') || ruleless != [] || parts == [] then ''
    else ' |~ `%s`' % std.join('|', parts),
}
