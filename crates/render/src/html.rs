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
th{background:#f3f5f7}table.num td{white-space:nowrap}td:first-child,th:first-child{text-align:left}
.met{color:#116329;font-weight:600}.missed{color:#b3261e;font-weight:600}.notrun{color:#6e7781}
.muted{color:#6e7781}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}
figure.chart svg{max-width:100%;height:auto}figure.chart svg text{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;border-radius:2px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
p.shared{background:#f6f8fa;border-left:3px solid #d0d7de;padding:4px 10px;margin:6px 0 10px}
td.mean,td.recall{white-space:nowrap}td.setup,td.note{text-align:left}section.suite{margin-bottom:8px}
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

/// A Markdown pipe table (`| a | b |` rows under a `|---|` rule, as the terminal and summary.md
/// print them) as an HTML table; cells escaped, lines outside the table left out.
pub fn markdown_table(md: &str) -> String {
    let mut s = String::from("<table>\n");
    let mut header = true;
    for line in md.lines().map(str::trim).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            header = false;
            continue;
        }
        let tag = if header { "th" } else { "td" };
        s.push_str("<tr>");
        for c in cells {
            let _ = write!(s, "<{tag}>{}</{tag}>", escape(c.trim_matches('*')));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    s
}

/// Facts as a two-column table (a result's provenance): key, then the value as code.
pub fn facts_table(id: &str, rows: impl IntoIterator<Item = (String, String)>) -> String {
    let mut s = format!("<table id=\"{}\">\n", escape(id));
    for (k, v) in rows {
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td style=\"text-align:left\"><code>{}</code></td></tr>",
            escape(&k),
            escape(&v)
        );
    }
    s.push_str("</table>\n");
    s
}

/// The facts of a provenance map ([`qdrant_perf_report::Provenance::to_map`]): strings as they are, other
/// values as JSON.
pub fn provenance_rows(
    map: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    map.iter().map(|(k, v)| (k.clone(), text(v))).collect()
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

    #[test]
    fn a_markdown_table_becomes_an_html_table_with_its_header_and_escaped_cells() {
        let t = markdown_table("intro\n| a | b |\n|---:|:--|\n| 1 | <x> |\n| **2** | y |\nafter");
        assert_eq!(
            t,
            "<table>\n<tr><th>a</th><th>b</th></tr>\n<tr><td>1</td><td>&lt;x&gt;</td></tr>\n<tr><td>2</td><td>y</td></tr>\n</table>\n"
        );
        let f = facts_table("p", vec![("cores".to_string(), "2".to_string())]);
        assert!(
            f.contains("<tr><th>cores</th><td style=\"text-align:left\"><code>2</code></td></tr>")
        );
    }
}
