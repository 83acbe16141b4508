//! Builds the offline GraphQL playground: Hive Laboratory (MIT) from the npm
//! registry, pinned by version and integrity, inlined into one HTML page that
//! the router serves itself, so the playground works with no internet.
//! (Hive Router's own build pins a Laboratory release the registry no longer
//! serves; we build the page here and enable its `graphiql` feature, which
//! skips that step.)

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGE: &str = "@graphql-hive/laboratory@0.2.6";
const INTEGRITY: &str =
    "sha512-8mt8ABp+fqpT3UAESTlT8GZ7h0C3SheXTgQtoVKwwVEL9D10sIYeD2is0OX1p2kPRZJFwFn3didhkYvVd6qqvw==";
const TARBALL: &str = "graphql-hive-laboratory-0.2.6.tgz";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=JOBTRACKER_LABORATORY_TGZ");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dist = out.join("package/dist");
    if !dist.join("hive-laboratory.umd.js").exists() {
        let tarball = std::env::var_os("JOBTRACKER_LABORATORY_TGZ").map(PathBuf::from).unwrap_or_else(|| fetch(&out));
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&out)
            .args(["package/dist/hive-laboratory.umd.js", "package/dist/monacoeditorwork"]));
    }
    std::fs::write(out.join("laboratory.html"), page(&dist)).expect("writing laboratory.html");
}

/// `npm pack` downloads the package tarball only (no dependencies: the UMD
/// bundle is self-contained) and reports its integrity, which must match.
fn fetch(out: &Path) -> PathBuf {
    let output = Command::new("npm")
        .args(["pack", PACKAGE, "--json", "--pack-destination"])
        .arg(out)
        .output()
        .expect("the playground is built with npm: install Node.js and npm");
    assert!(output.status.success(), "npm pack {PACKAGE} failed: {}", String::from_utf8_lossy(&output.stderr));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains(INTEGRITY), "{PACKAGE} does not have the pinned integrity; npm said: {report}");
    out.join(TARBALL)
}

fn run(command: &mut Command) {
    let status = command.status().expect("running tar");
    assert!(status.success(), "{command:?} failed");
}

fn page(dist: &Path) -> String {
    let read = |file: &str| std::fs::read_to_string(dist.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
    let worker = |file: &str| js_string(&read(&format!("monacoeditorwork/{file}")));
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>Jobtracker GraphQL playground</title>
<style>html, body, #root {{ height: 100%; }} body {{ margin: 0; }}</style>
</head>
<body>
<noscript>The playground needs JavaScript.</noscript>
<div id="root"></div>
<script>
function workerUrl(source) {{
  return URL.createObjectURL(new Blob([source], {{ type: "application/javascript" }}));
}}
const workers = {{
  editorWorkerService: workerUrl({editor}),
  typescript: workerUrl({typescript}),
  json: workerUrl({json}),
  graphql: workerUrl({graphql}),
}};
self["MonacoEnvironment"] = {{ globalAPI: false, getWorkerUrl: (_id, label) => workers[label] }};
{bundle}
HiveLaboratory.renderLaboratory(document.querySelector("#root"), {{}});
</script>
</body>
</html>
"##,
        editor = worker("editor.worker.bundle.js"),
        typescript = worker("ts.worker.bundle.js"),
        json = worker("json.worker.bundle.js"),
        graphql = worker("graphql.worker.bundle.js"),
        bundle = escape_script(&read("hive-laboratory.umd.js")),
    )
}

fn escape_script(source: &str) -> String {
    source.replace("</script", "<\\/script").replace("<!--", "<\\!--").replace("<script", "<\\script")
}

fn js_string(source: &str) -> String {
    let mut escaped = String::with_capacity(source.len() + 2);
    escaped.push('"');
    for ch in source.chars() {
        match ch {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            _ => escaped.push(ch),
        }
    }
    escaped.push('"');
    escape_script(&escaped)
}
