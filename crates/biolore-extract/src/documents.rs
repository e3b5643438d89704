//! Extraction over documents: passages split into sentences (offsets kept), sentences extracted
//! in batches, spans put back at document offsets — as relations of the whole text, or as
//! annotations and relations of the document.

use biolore_text::{sentences::sentence_spans, Annotation, Document, Node, Relation, Span};

use crate::error::Result;
use crate::sentence::{AdeRelation, AdeSentence, LinkedConcept, DRUG, EFFECT};
use crate::student::Extractor;

/// Relation type written for an adverse drug event.
pub const ADE_RELATION: &str = "ADE";

/// Sentences of a document: `(sentence, document offset of its first character)`.
pub fn document_sentences(doc: &Document) -> Vec<(AdeSentence, usize)> {
    let mut out = Vec::new();
    for p in &doc.passages {
        let chars: Vec<char> = p.text.chars().collect();
        for (s, e) in sentence_spans(&p.text) {
            let text: String = chars[s..e].iter().collect();
            out.push((AdeSentence::new(&doc.id, &text), p.offset + s));
        }
    }
    out
}

fn shifted(span: &Span, offset: usize) -> Span {
    Span {
        start: span.start + offset,
        end: span.end + offset,
        ..span.clone()
    }
}

/// The relations of each document, spans at offsets of its whole text (`Document::text`);
/// `progress` sees how many sentences are done.
pub fn extract_documents(
    extractor: &Extractor,
    docs: &[Document],
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<AdeSentence>> {
    let mut sentences = Vec::new();
    let mut owners = Vec::new();
    for (d, doc) in docs.iter().enumerate() {
        for (s, offset) in document_sentences(doc) {
            sentences.push(s);
            owners.push((d, offset));
        }
    }
    let found = extractor.extract(&sentences, batch, progress)?;
    let mut out: Vec<AdeSentence> = docs
        .iter()
        .map(|d| AdeSentence::new(&d.id, &d.text()))
        .collect();
    for (sentence, &(d, offset)) in found.iter().zip(&owners) {
        for r in &sentence.relations {
            out[d].add(AdeRelation {
                drug: shifted(&r.drug, offset),
                effect: shifted(&r.effect, offset),
                score: r.score,
                drug_concept: r.drug_concept.clone(),
                effect_concept: r.effect_concept.clone(),
            });
        }
    }
    Ok(out)
}

/// `doc` with the relations of `found` (document offsets) added as Drug and Effect annotations
/// (ids `D1`, `E1`, …; their concept ids where the spans were linked) and ADE relations
/// between them.
pub fn annotate(doc: &Document, found: &AdeSentence) -> Document {
    let mut out = doc.clone();
    let mut ids: Vec<((usize, usize, &str), String)> = Vec::new();
    let mut annotation_id = |out: &mut Document,
                             span: &Span,
                             kind: &'static str,
                             concept: Option<&LinkedConcept>|
     -> String {
        let key = (span.start, span.end, kind);
        if let Some((_, id)) = ids.iter().find(|(k, _)| *k == key) {
            return id.clone();
        }
        let n = ids.iter().filter(|(k, _)| k.2 == kind).count() + 1;
        let id = format!("{}{n}", &kind[..1]);
        let concept = concept.map_or("", |c| c.id.as_str());
        let mut a = Annotation::new(span.start, span.end, &span.text, kind, concept);
        a.id = Some(id.clone());
        out.annotations.push(a);
        ids.push((key, id.clone()));
        id
    };
    for r in &found.relations {
        let drug = annotation_id(&mut out, &r.drug, DRUG, r.drug_concept.as_ref());
        let effect = annotation_id(&mut out, &r.effect, EFFECT, r.effect_concept.as_ref());
        let n = out.relations.len() + 1;
        out.relations.push(Relation {
            id: Some(format!("R{n}")),
            kind: ADE_RELATION.into(),
            nodes: vec![
                Node {
                    refid: drug,
                    role: DRUG.into(),
                },
                Node {
                    refid: effect,
                    role: EFFECT.into(),
                },
            ],
        });
    }
    out
}
