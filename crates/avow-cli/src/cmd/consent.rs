//! `avow consent`: draft, sign, show, verify and revoke consent records.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use avow_consent::dsse::{CONSENT_PAYLOAD_TYPE, REVOCATION_PAYLOAD_TYPE};
use avow_consent::statement::{CONSENT_FORMAT, REVOCATION_FORMAT};
use avow_consent::{
    default_fingerprint, default_revocation_dir, verify as verify_record, parse_record, read_limited, sha256_hex, ConsentStatement, Envelope, Evidence,
    FileHash, PublicKey, Purpose, RevocationStatement, RevocationStore, SecretKey, Subject, Timestamp, TrustStore, VerifyRequest,
    VoicePackRef, MAX_PACK_BYTES,
};

const VERIFY_EXIT_CODES: &str = "\
Exit codes:
   0  the record is valid for this pack, purpose, language and time
   1  usage or I/O error (file missing, unreadable trust directory, ...)
  10  malformed: the envelope or statement does not parse, breaks a rule, or is too large
  11  unsupported format version
  12  bad signature: a signature by a trusted or the subject's key does not verify
  13  untrusted signer: no valid signature from a trusted issuer key
  14  missing subject signature: the record names a subject key that did not sign
  15  not yet valid (before not_before)
  16  expired (at or after not_after)
  17  revoked by the record's issuer or subject
  18  out of scope: purpose, language or grantee not granted
  19  hash mismatch: the voice pack is not the one the record covers

Trust: --trust DIR (repeatable), else $AVOW_TRUST_DIR (colon-separated), else
~/.config/avow/trust plus the built-in stock-voice key. Revocations: --revoked DIR,
else $AVOW_REVOCATION_DIR, else ~/.config/avow/revoked.";

/// Subcommands of `avow consent`.
// Parsed once per process; boxing the draft arguments would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(clap::Subcommand)]
pub enum Command {
    /// Build an unsigned consent record from a voice pack and evidence files.
    Draft(DraftArgs),
    /// Add a signature (issuer or subject) to a record.
    Sign {
        /// The record to sign (rewritten in place unless --out is given).
        record: PathBuf,
        /// Private key file to sign with.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Write the signed record here instead.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a record readably (signatures are checked against the trust store, not the window or pack).
    Show {
        /// The record.
        record: PathBuf,
        /// Trusted key directory (repeatable).
        #[arg(long, value_name = "DIR")]
        trust: Vec<PathBuf>,
    },
    /// Verify a record for a voice pack, purpose and language.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
    /// Write a signed revocation of a record (by its issuer or subject) into the revocation directory.
    Revoke {
        /// The record to revoke.
        record: PathBuf,
        /// Private key of the record's issuer or subject.
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Why (stored in the revocation).
        #[arg(long, default_value = "")]
        reason: String,
        /// Revocation directory to write to (default: $AVOW_REVOCATION_DIR's first entry, else ~/.config/avow/revoked).
        #[arg(long, value_name = "DIR")]
        revoked: Option<PathBuf>,
        /// Revocation time (YYYY-MM-DDTHH:MM:SSZ; default now).
        #[arg(long, value_parser = parse_time)]
        at: Option<Timestamp>,
    },
    /// Print a spoken-consent statement with a random challenge phrase for the voice owner to read aloud and record.
    Statement(StatementArgs),
}

/// Arguments of `avow consent statement`.
#[derive(clap::Args)]
pub struct StatementArgs {
    /// The voice owner's name, as they will say it.
    #[arg(long)]
    name: String,
    /// Also save the statement with its challenge as JSON (for checking the recording at enrollment).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

/// Arguments of `avow consent draft`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("end").required(true).args(["not_after", "valid_days"])))]
#[command(group(clap::ArgGroup::new("text").required(true).args(["statement", "statement_file"])))]
pub struct DraftArgs {
    /// The voice pack the record covers (hashed).
    #[arg(long, value_name = "FILE")]
    pack: PathBuf,
    /// The subject's display name.
    #[arg(long, value_name = "NAME")]
    subject_name: String,
    /// The subject's public key: the subject must then sign too.
    #[arg(long, value_name = "PUB")]
    subject_key: Option<PathBuf>,
    /// Who may use the voice: `anyone` holding the record, or a public key file.
    #[arg(long, default_value = "anyone", value_name = "anyone|PUB")]
    grantee: String,
    /// Purposes, comma-separated: aac, accessibility, dubbing, narration, research, or `*`.
    #[arg(long, value_delimiter = ',', required = true)]
    purpose: Vec<String>,
    /// Languages (BCP-47 ranges), comma-separated, or `*`.
    #[arg(long, value_delimiter = ',', required = true)]
    language: Vec<String>,
    /// Start of validity (default: now).
    #[arg(long, value_parser = parse_time)]
    not_before: Option<Timestamp>,
    /// End of validity (exclusive).
    #[arg(long, value_parser = parse_time)]
    not_after: Option<Timestamp>,
    /// Validity in days from not-before (instead of --not-after).
    #[arg(long)]
    valid_days: Option<u32>,
    /// A reference recording the voice was made from (repeatable; hashed).
    #[arg(long, value_name = "FILE")]
    reference: Vec<PathBuf>,
    /// The recording of the subject speaking the consent statement (hashed).
    #[arg(long, value_name = "FILE")]
    consent_recording: Option<PathBuf>,
    /// The consent statement text.
    #[arg(long)]
    statement: Option<String>,
    /// Read the consent statement text from a file.
    #[arg(long, value_name = "FILE")]
    statement_file: Option<PathBuf>,
    /// Record id (default: random).
    #[arg(long)]
    record_id: Option<String>,
    /// Watermark payload, 8 hex digits (default: first 4 bytes of sha256(record id)).
    #[arg(long, value_name = "HEX")]
    fingerprint: Option<String>,
    /// Voice name stored in the record (default: the pack's file stem).
    #[arg(long)]
    voice_name: Option<String>,
    /// Where to write the unsigned record.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

/// Arguments of `avow consent verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The record.
    record: PathBuf,
    /// The voice pack to check against the record.
    #[arg(long, value_name = "FILE")]
    pack: PathBuf,
    /// Intended purpose.
    #[arg(long, value_parser = parse_purpose)]
    purpose: Purpose,
    /// Language to be spoken (BCP-47 tag).
    #[arg(long)]
    language: String,
    /// Trusted key directory (repeatable).
    #[arg(long, value_name = "DIR")]
    trust: Vec<PathBuf>,
    /// Revocation directory (repeatable).
    #[arg(long, value_name = "DIR")]
    revoked: Vec<PathBuf>,
    /// Check at this time instead of now (YYYY-MM-DDTHH:MM:SSZ).
    #[arg(long, value_parser = parse_time)]
    at: Option<Timestamp>,
    /// Your private key, when the record grants use only to a key holder.
    #[arg(long = "as", value_name = "KEY")]
    as_key: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).ok_or_else(|| format!("`{s}` is not a time of the form YYYY-MM-DDTHH:MM:SSZ"))
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
    Purpose::parse(s).ok_or_else(|| {
        format!("unknown purpose `{s}` (one of: {})", Purpose::ALL.map(|p| p.as_str()).join(", "))
    })
}

/// Runs `avow consent`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Draft(a) => draft(a),
        Command::Sign { record, key, out } => sign(&record, &key, out.as_deref()),
        Command::Show { record, trust } => show(&record, &trust),
        Command::Verify(a) => verify(a),
        Command::Revoke { record, key, reason, revoked, at } => revoke(&record, &key, &reason, revoked, at),
        Command::Statement(a) => statement(a),
    }
}

fn statement(a: StatementArgs) -> anyhow::Result<ExitCode> {
    let st = avow_asr::ConsentStatement::new(&a.name, &mut avow_asr::statement::rand::thread_rng())?;
    if let Some(out) = &a.out {
        write_atomic(out, format!("{}\n", st.to_json()).as_bytes(), a.force)?;
        eprintln!("saved the statement and its challenge to {}", out.display());
    }
    println!("{}", st.text);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn hash_file(path: &Path) -> anyhow::Result<FileHash> {
    let bytes = read_limited(path, 1 << 30)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(FileHash { name, sha256: sha256_hex(&bytes) })
}

fn draft(a: DraftArgs) -> anyhow::Result<ExitCode> {
    let pack = read_limited(&a.pack, MAX_PACK_BYTES)?;
    let record_id = match a.record_id {
        Some(id) => id,
        None => avow_consent::new_record_id(),
    };
    let subject_key = a.subject_key.as_deref().map(PublicKey::read).transpose()?;
    let grantee = if a.grantee == "anyone" {
        "anyone".to_string()
    } else {
        format!("key:{}", PublicKey::read(Path::new(&a.grantee)).context("--grantee is neither `anyone` nor a public key file")?.id())
    };
    let not_before = a.not_before.unwrap_or_else(Timestamp::now);
    let not_after = match (a.not_after, a.valid_days) {
        (Some(t), _) => t,
        (None, Some(d)) => not_before.plus(i64::from(d) * 86_400),
        (None, None) => bail!("give --not-after or --valid-days"),
    };
    let statement_text = match (a.statement, a.statement_file) {
        (Some(t), _) => t,
        (None, Some(f)) => String::from_utf8(read_limited(&f, 64 * 1024)?).context("statement file is not UTF-8")?,
        (None, None) => bail!("give --statement or --statement-file"),
    };
    let voice_name = a
        .voice_name
        .unwrap_or_else(|| a.pack.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    let st = ConsentStatement {
        format: CONSENT_FORMAT.into(),
        record_id: record_id.clone(),
        subject: Subject { name: a.subject_name, public_key: subject_key.map(|k| k.to_base64()) },
        voice_pack: VoicePackRef { sha256: sha256_hex(&pack), name: voice_name },
        grantee,
        purposes: a.purpose,
        languages: a.language,
        not_before: not_before.to_string(),
        not_after: not_after.to_string(),
        issued_at: Timestamp::now().to_string(),
        evidence: Evidence {
            reference_recordings: a.reference.iter().map(|p| hash_file(p)).collect::<anyhow::Result<_>>()?,
            consent_recording: a.consent_recording.as_deref().map(hash_file).transpose()?,
            statement_text: statement_text.trim_end().to_string(),
        },
        watermark_fingerprint: a.fingerprint.map(|f| f.to_ascii_lowercase()).unwrap_or_else(|| default_fingerprint(&record_id)),
    };
    st.validate().context("the draft would not be a valid record")?;
    let env = Envelope::new(CONSENT_PAYLOAD_TYPE, st.to_payload());
    write_atomic(&a.out, env.to_json().as_bytes(), a.force)?;
    println!("drafted record {record_id} (unsigned) -> {}", a.out.display());
    println!("voice pack sha256 {}, watermark {}", st.voice_pack.sha256, st.watermark_fingerprint);
    Ok(ExitCode::SUCCESS)
}

fn read_record(path: &Path) -> anyhow::Result<(Envelope, ConsentStatement)> {
    let bytes = read_limited(path, avow_consent::dsse::MAX_ENVELOPE_BYTES)?;
    parse_record(&bytes).with_context(|| format!("{}", path.display()))
}

fn sign(record: &Path, key: &Path, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (mut env, st) = read_record(record)?;
    let key = SecretKey::read(key)?;
    let role = match st.subject_key() {
        Some(k) if k.id() == key.public().id() => "subject",
        _ => "issuer",
    };
    env.sign(&key)?;
    let dest = out.unwrap_or(record);
    write_atomic(dest, env.to_json().as_bytes(), true)?;
    println!("signed record {} as {role} with key {} -> {}", st.record_id, key.public().id(), dest.display());
    Ok(ExitCode::SUCCESS)
}

fn show(record: &Path, trust_dirs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (env, st) = read_record(record)?;
    let trust = TrustStore::resolve(trust_dirs)?;
    let subject = st.subject_key();
    println!("record      {}", st.record_id);
    println!("subject     {}{}", st.subject.name, subject.as_ref().map(|k| format!(" (key {})", k.id())).unwrap_or_default());
    println!("voice pack  {} sha256 {}", st.voice_pack.name, st.voice_pack.sha256);
    println!("grantee     {}", st.grantee);
    println!("purposes    {}", st.purposes.join(", "));
    println!("languages   {}", st.languages.join(", "));
    println!("valid       {} to {} (exclusive)", st.not_before, st.not_after);
    println!("issued      {}", st.issued_at);
    println!("watermark   {}", st.watermark_fingerprint);
    println!("evidence");
    for r in &st.evidence.reference_recordings {
        println!("  reference recording  {} sha256 {}", r.name, r.sha256);
    }
    match &st.evidence.consent_recording {
        Some(r) => println!("  consent recording    {} sha256 {}", r.name, r.sha256),
        None => println!("  consent recording    (none)"),
    }
    println!("  statement:");
    for line in st.evidence.statement_text.lines() {
        println!("    | {line}");
    }
    println!("signatures");
    if env.signatures().is_empty() {
        println!("  (none: unsigned draft)");
    }
    let signed = env.signed_bytes();
    for sig in env.signatures() {
        let (who, key) = match (trust.get(&sig.keyid), subject.as_ref().filter(|k| k.id() == &sig.keyid)) {
            (Some(k), _) => (format!("trusted issuer ({})", trust.source(&sig.keyid).unwrap_or("")), Some(k)),
            (None, Some(k)) => ("subject".to_string(), Some(k)),
            (None, None) => ("unknown key (not trusted)".to_string(), None),
        };
        let state = match key {
            Some(k) if k.verify(&signed, &sig.sig) => "valid",
            Some(_) => "INVALID",
            None => "not checked",
        };
        println!("  {}  {state}  {who}", sig.keyid);
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let trust = TrustStore::resolve(&a.trust)?;
    let revocations = RevocationStore::resolve(&a.revoked)?;
    let grantee = a.as_key.as_deref().map(SecretKey::read).transpose()?.map(|k| k.public().id().clone());
    let request = VerifyRequest { purpose: a.purpose, language: a.language, now: a.at.unwrap_or_else(Timestamp::now), grantee };
    let envelope = read_limited(&a.record, avow_consent::dsse::MAX_ENVELOPE_BYTES);
    let envelope = match envelope {
        Ok(b) => b,
        Err(e @ avow_consent::ConsentError::Io(_)) => return Err(e.into()),
        Err(e) => return Ok(refuse(&e)),
    };
    let pack = read_limited(&a.pack, MAX_PACK_BYTES)?;
    match verify_record(&envelope, pack, &request, &trust, &revocations) {
        Ok(v) => {
            let st = v.statement();
            let signers: Vec<String> = v
                .signers()
                .iter()
                .map(|k| match trust.source(k) {
                    Some(src) => format!("{k} (trusted: {src})"),
                    None => format!("{k} (subject)"),
                })
                .collect();
            println!(
                "ok: record {} covers voice pack {} for {} in {} until {}; watermark {:08x}; signed by {}",
                v.record_id(),
                v.pack_sha256(),
                v.purpose(),
                v.language(),
                st.not_after,
                v.watermark_payload(),
                signers.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(refuse(&e)),
    }
}

fn refuse(e: &avow_consent::ConsentError) -> ExitCode {
    eprintln!("avow: refused: {e}");
    ExitCode::from(e.exit_code())
}

fn revoke(record: &Path, key: &Path, reason: &str, dir: Option<PathBuf>, at: Option<Timestamp>) -> anyhow::Result<ExitCode> {
    let (env, st) = read_record(record)?;
    let key = SecretKey::read(key)?;
    let id = key.public().id();
    let is_subject = st.subject_key().is_some_and(|k| k.id() == id);
    let signed_record = env.signatures().iter().any(|s| &s.keyid == id && key.public().verify(&env.signed_bytes(), &s.sig));
    if !is_subject && !signed_record {
        bail!("key {id} is neither the record's subject key nor one of its valid signers; its revocation would not count");
    }
    let rev = RevocationStatement {
        format: REVOCATION_FORMAT.into(),
        record_id: st.record_id.clone(),
        revoked_at: at.unwrap_or_else(Timestamp::now).to_string(),
        reason: reason.to_string(),
    };
    let mut renv = Envelope::new(REVOCATION_PAYLOAD_TYPE, rev.to_payload());
    renv.sign(&key)?;
    let dir = match dir.or_else(default_revocation_dir) {
        Some(d) => d,
        None => bail!("no revocation directory: pass --revoked DIR or set AVOW_REVOCATION_DIR or HOME"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.{id}.json", st.record_id));
    write_atomic(&path, renv.to_json().as_bytes(), true)?;
    println!("revoked record {} by key {id} -> {}", st.record_id, path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file in the same directory and renames, so a
/// failure never leaves a partial file. Without `overwrite`, an existing
/// destination is an error (checked by a hard link, which cannot replace).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], overwrite: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if overwrite {
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        } else {
            std::fs::hard_link(&tmp, path).with_context(|| format!("{} exists or cannot be written (use --force to replace)", path.display()))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
