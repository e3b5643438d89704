//! End-to-end: `train pairs` → `train contrastive` → `train distill` → `average` →
//! `eval relatedness`, with all-MiniLM-L6-v2 on the Human Phenotype Ontology (from
//! scripts/setup.sh), the committed NCBI-disease excerpt and EHR-RelA.

mod common;

use common::{biolore, fixture, ok, repo_root};
use serde_json::Value;

#[test]
fn pairs_train_average_and_evaluate_relatedness() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let hpo = repo_root().join("data/terminologies/hp.obo");
    assert!(hpo.is_file(), "run scripts/setup.sh");
    let hpo = hpo.to_str().unwrap();

    // Pairs straight from the terminology file.
    let out = biolore(&[
        "train",
        "pairs",
        "--kb",
        hpo,
        "--kb-format",
        "obo",
        "-o",
        &p("pairs.jsonl"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pairs: Vec<Value> = std::fs::read_to_string(p("pairs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(pairs.len() > 20_000, "{} pairs", pairs.len());
    for kind in ["definition", "description", "synonym"] {
        assert!(pairs.iter().any(|v| v["kind"] == kind), "no {kind} pair");
    }

    ok(biolore(&[
        "kb",
        "import",
        "--format",
        "obo",
        hpo,
        "-o",
        &p("hpo.kb"),
    ]));
    let small = [
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--micro-batch",
        "8",
        "--max-length",
        "16",
    ];
    let kb = p("hpo.kb");
    // Phase 1 from MiniLM on the HPO KB into `out`, with more options.
    let contrastive = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "contrastive",
            "--kb",
            &kb,
            "--model",
            "all-MiniLM-L6-v2",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        biolore(&args)
    };
    let p1 = p("p1");
    ok(contrastive(&p1, &small));
    let log = std::fs::read_to_string(dir.path().join("p1/training_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
    assert!(dir.path().join("p1/loss.svg").is_file());

    let sentences = fixture("ncbi-disease/NCBIdevelopset_first50.txt");
    let p2 = p("p2");
    let mut args = vec![
        "train",
        "distill",
        "--kb",
        &p1,
        "--teacher",
        &p1,
        "--base",
        "all-MiniLM-L6-v2",
        "--out",
        &p2,
        "--sentences",
        sentences.to_str().unwrap(),
    ];
    // --kb must be a KB file: the model folder is refused with a message naming it.
    let bad = biolore(&args);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("p1"));
    args[3] = &kb;
    args.extend(small);
    ok(biolore(&args));

    let avg = p("avg");
    ok(biolore(&[
        "average",
        "--out",
        &avg,
        "all-MiniLM-L6-v2",
        &p1,
        &p2,
    ]));

    let ehr = fixture("ehr-rel/EHR-RelA.tsv");
    let mut scores = Vec::new();
    for m in ["all-MiniLM-L6-v2", p1.as_str(), p2.as_str(), avg.as_str()] {
        let out = ok(biolore(&[
            "eval",
            "relatedness",
            "--model",
            m,
            "--data",
            ehr.to_str().unwrap(),
            "--json",
        ]));
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["n"], 111);
        let s = v["spearman"].as_f64().unwrap();
        assert!(s > 0.2 && s < 1.0, "{m}: {s}");
        scores.push(s);
    }
    // Two tiny steps barely move the model.
    assert!((scores[0] - scores[3]).abs() < 0.05, "{scores:?}");

    // A config key that does not exist is an error naming the file and the key.
    std::fs::write(p("bad.toml"), "learning_rate = 1\n").unwrap();
    let out = contrastive(&p("x"), &["--config", &p("bad.toml")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.toml") && err.contains("learning_rate"),
        "{err}"
    );
}
