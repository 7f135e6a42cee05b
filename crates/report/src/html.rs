//! The one HTML page shell of qdrant-perf's pages (a run's report.html, a comparison of two
//! runs, `cargo bench`'s summary page): self-contained, so a page opens from disk with no
//! network. Styles are inline; the Content-Security-Policy forbids every fetch (scripts,
//! images, fonts, styles from anywhere but the page itself), so a page that tried to load
//! something would say so in the browser's console instead of loading it.

use std::fmt::Write;

/// The policy of every page: nothing from outside the page.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dee4;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f5f7}td:first-child,th:first-child{text-align:left}
.met{color:#116329;font-weight:600}.missed{color:#b3261e;font-weight:600}.notrun{color:#6e7781}
.muted{color:#6e7781}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}
figure.chart svg{max-width:100%;height:auto}.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;border-radius:2px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
";

/// Escapes `s` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (escaped here) and `body` (HTML, the caller's).
pub fn page(title: &str, body: &str) -> String {
    let mut s = String::with_capacity(body.len() + 2048);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_escapes_its_title_and_forbids_every_fetch() {
        let p = page("a <b> & \"c\"", "<p>x</p>");
        assert!(
            p.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"),
            "{p}"
        );
        assert!(p.contains("default-src 'none'"), "{p}");
        assert!(p.contains("<p>x</p>"));
        assert!(!p.contains("http://") && !p.contains("https://"), "{p}");
    }
}
