/**
 * The name in a Host header (or an entry of VIGIL_ALLOWED_HOSTS): `Vigil.Example.com:8080` →
 * `vigil.example.com`, `[::1]:8080` → `::1`, `localhost.` → `localhost`. Undefined when it is not
 * a host name (a scheme, a path, user info: no browser sends those).
 */
export const hostName = (host: string): string | undefined => {
  const m = /^(?:\[([\da-f:.]+)\]|([\w.-]+))(?::\d{1,5})?$/i.exec(host)
  return m ? (m[1] ?? m[2]!).toLowerCase().replace(/\.$/, '') : undefined
}
