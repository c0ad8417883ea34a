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

// An http(s) URL inside free text; the literal scheme anchors each match, so a scan of the text is linear.
const URL_IN_TEXT = /https?:\/\/[^\s"'<>]+/gi;

/** Free text (an error message, a log line) with every http(s) URL in it passed through redactUrl. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url));
}
