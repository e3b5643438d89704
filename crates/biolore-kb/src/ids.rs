//! Concept identifier normalisation: one spelling per concept across sources.
//!
//! `MESH:D006527`, `MeSH:D006527` and `D006527` are one id, `MESH:D006527`; bare OMIM numbers
//! become `OMIM:…`; `DO:DOID:…` (CTD's spelling) becomes `DOID:…`; `UMLS_CUI:C…` and bare CUIs
//! become `UMLS:C…`. Other prefixes are upper-cased and kept.

/// The canonical spelling of a concept id (empty when `raw` is blank).
pub fn normalize_id(raw: &str) -> String {
    let id = raw.trim();
    if id.is_empty() {
        return String::new();
    }
    if let Some((prefix, rest)) = id.split_once(':') {
        let rest = rest.trim();
        let p = prefix.trim().to_ascii_uppercase();
        return match p.as_str() {
            "MESH" | "MSH" => format!("MESH:{}", rest.to_ascii_uppercase()),
            "DO" => normalize_id(rest),
            "DOID" => format!("DOID:{rest}"),
            "OMIM" | "MIM" => format!("OMIM:{rest}"),
            "UMLS" | "UMLS_CUI" | "CUI" => format!("UMLS:{}", rest.to_ascii_uppercase()),
            "HP" | "HPO" => format!("HP:{rest}"),
            _ => format!("{p}:{rest}"),
        };
    }
    let bytes = id.as_bytes();
    let digits_after = |n: usize| bytes.len() > n && bytes[n..].iter().all(u8::is_ascii_digit);
    if bytes.iter().all(u8::is_ascii_digit) {
        return format!("OMIM:{id}");
    }
    match bytes[0].to_ascii_uppercase() {
        // MeSH descriptors D000000 and supplementary concepts C000000(000).
        b'D' | b'C' if digits_after(1) && (bytes.len() == 7 || bytes.len() == 10) => {
            format!("MESH:{}", id.to_ascii_uppercase())
        }
        // UMLS CUIs C0000000.
        b'C' if digits_after(1) && bytes.len() == 8 => format!("UMLS:{}", id.to_ascii_uppercase()),
        _ => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_id;

    #[test]
    fn spellings_of_one_id_agree() {
        assert_eq!(normalize_id("D006527"), "MESH:D006527");
        assert_eq!(normalize_id("MESH:D006527"), "MESH:D006527");
        assert_eq!(normalize_id(" MeSH:d006527 "), "MESH:D006527");
        assert_eq!(normalize_id("C565588"), "MESH:C565588");
        assert_eq!(normalize_id("C000657245"), "MESH:C000657245");
        assert_eq!(normalize_id("613097"), "OMIM:613097");
        assert_eq!(normalize_id("OMIM:613097"), "OMIM:613097");
        assert_eq!(normalize_id("DO:DOID:0060395"), "DOID:0060395");
        assert_eq!(normalize_id("UMLS_CUI:C0018923"), "UMLS:C0018923");
        assert_eq!(normalize_id("C0018923"), "UMLS:C0018923");
        assert_eq!(normalize_id("HP:0001250"), "HP:0001250");
        assert_eq!(normalize_id("icd10cm:E11.9"), "ICD10CM:E11.9");
        assert_eq!(normalize_id("  "), "");
    }
}
