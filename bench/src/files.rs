//! Résumé byte throughput: a 10 MiB PDF uploaded through `uploadUrl` and
//! downloaded through `downloadUrl` on one backend, against `curl` of the
//! same bytes straight to the S3 server (SigV4-signed by curl itself), with
//! the same client (curl) on both sides. `attachResume` (copy, read and
//! check of the 10 MiB) is timed on its own.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use crate::{Login, Sample, graphql, http, login};

pub const MIB: usize = 1024 * 1024;

#[derive(clap::Args)]
pub struct S3Baseline {
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    #[arg(long, default_value = "bench-baseline")]
    pub s3_bucket: String,
    #[arg(long, default_value = "")]
    pub s3_access_key: String,
    #[arg(long, default_value = "")]
    pub s3_secret_key: String,
}

/// A well-formed PDF of exactly `size` bytes (a one-page document padded
/// with comment lines), as the attach check wants one.
fn pdf_of(size: usize) -> Vec<u8> {
    let head = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n";
    let tail = b"trailer\n<< /Root 1 0 R >>\nstartxref\n9\n%%EOF\n";
    let mut pdf = head.to_vec();
    while pdf.len() + tail.len() < size {
        let line = b"% padding padding padding padding padding padding padding padding padding padding\n";
        let room = size - tail.len() - pdf.len();
        pdf.extend_from_slice(&line[line.len().saturating_sub(room)..]);
    }
    pdf.extend_from_slice(tail);
    pdf
}

/// One transfer with curl: seconds taken (HTTP 2xx asserted).
fn curl(args: &[&str]) -> anyhow::Result<f64> {
    let output = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"])
        .args(args)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (status, seconds) = text.split_once(' ').with_context(|| format!("curl said {text:?}"))?;
    anyhow::ensure!(status.starts_with('2'), "curl {args:?}: HTTP {status}");
    Ok(seconds.trim().parse()?)
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / 1_000_000.0 / seconds
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub async fn throughput(
    login_as: &Login,
    files_graphql: &str,
    backend: &str,
    rounds: usize,
    baseline: &S3Baseline,
) -> anyhow::Result<()> {
    let http = http();
    let (token, user) = login(&http, login_as).await?;
    let size = 10 * MIB;
    let path = std::env::temp_dir().join(format!("jobtracker-bench-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pdf_of(size))?;
    let file = path.to_string_lossy().to_string();
    let (mut puts, mut gets, mut attaches) = (Vec::new(), Vec::new(), Vec::new());
    let create = "mutation($s: Int!) { createResumeUpload(fileName: \"bench.pdf\", contentType: \"application/pdf\", sizeBytes: $s) { uploadUrl file { id } } }";
    let resume = "query($id: ID!) { _entities(representations: [{ __typename: \"User\", id: $id }]) { ... on User { resume { downloadUrl } } } }";
    for _ in 0..rounds {
        let upload = graphql(&http, files_graphql, &token, create, json!({ "s": size })).await?;
        let url = upload["createResumeUpload"]["uploadUrl"].as_str().context("uploadUrl")?.to_string();
        puts.push(curl(&["-T", &file, "-H", "content-type: application/pdf", &url])?);
        let started = Instant::now();
        let id = upload["createResumeUpload"]["file"]["id"].clone();
        graphql(
            &http,
            files_graphql,
            &token,
            "mutation($id: ID!) { attachResume(fileId: $id) { id } }",
            json!({ "id": id }),
        )
        .await?;
        attaches.push(started.elapsed().as_secs_f64() * 1000.0);
        let answer = graphql(&http, files_graphql, &token, resume, json!({ "id": user })).await?;
        let download = answer["_entities"][0]["resume"]["downloadUrl"].as_str().context("downloadUrl")?.to_string();
        gets.push(curl(&[&download])?);
    }
    let attach = Sample { name: String::new(), millis: attaches };
    println!(
        "| {backend}: PUT uploadUrl | {:.0} MB/s |\n| {backend}: GET downloadUrl | {:.0} MB/s |\n| {backend}: attachResume (copy, read, check 10 MiB) | p50 {:.1} ms, p99 {:.1} ms |",
        mb_per_s(size, median(&mut puts)),
        mb_per_s(size, median(&mut gets)),
        attach.percentile(0.5),
        attach.percentile(0.99),
    );
    if let Some(endpoint) = &baseline.s3_endpoint {
        baseline_to_s3(endpoint, baseline, &file, size, rounds)?;
    }
    std::fs::remove_file(Path::new(&file))?;
    Ok(())
}

/// The same bytes PUT and GET straight to the S3 server by curl.
fn baseline_to_s3(endpoint: &str, s3: &S3Baseline, file: &str, size: usize, rounds: usize) -> anyhow::Result<()> {
    let user = format!("{}:{}", s3.s3_access_key, s3.s3_secret_key);
    let signed = [
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        user.as_str(),
        "-H",
        "x-amz-content-sha256: UNSIGNED-PAYLOAD",
    ];
    let bucket = format!("{}/{}", endpoint.trim_end_matches('/'), s3.s3_bucket);
    curl(&[&signed[..], &["-X", "PUT", &bucket]].concat())?;
    let object = format!("{bucket}/baseline.pdf");
    let (mut puts, mut gets) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        puts.push(curl(&[&signed[..], &["-T", file, "-H", "content-type: application/pdf", &object]].concat())?);
        gets.push(curl(&[&signed[..], &[object.as_str()]].concat())?);
    }
    println!(
        "| baseline: curl PUT straight to S3 | {:.0} MB/s |\n| baseline: curl GET straight to S3 | {:.0} MB/s |",
        mb_per_s(size, median(&mut puts)),
        mb_per_s(size, median(&mut gets)),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_padded_pdf_has_the_exact_size_and_shape() {
        for size in [200, 1000, super::MIB + 7] {
            let pdf = super::pdf_of(size);
            assert_eq!(pdf.len(), size);
            assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
        }
    }
}
