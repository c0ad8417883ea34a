// Source URLs may carry credentials (user:password@host, ?token=…); anything shown or stored shows them redacted. Pure.

/** The URL with its userinfo replaced by "***@" and its query and fragment by "?***"; text that is not a URL is returned cut to 512 characters. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text.slice(0, 512);
  }
  const credentials = url.username !== '' || url.password !== '';
  const query = url.search !== '' || url.hash !== '';
  url.username = '';
  url.password = '';
  url.search = '';
  url.hash = '';
  const bare = url.href;
  const withUser = credentials ? bare.replace('://', '://***@') : bare;
  return query ? `${withUser}?***` : withUser;
}
