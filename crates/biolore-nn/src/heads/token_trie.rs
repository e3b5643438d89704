//! A prefix trie of token-id sequences (the tokenized names of a knowledge base): which tokens
//! may follow a prefix, and which entries a complete sequence stands for.

/// One trie node: its children by token (sorted) and the entries that end here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    children: Vec<(u32, u32)>,
    entries: Vec<u32>,
}

/// A prefix trie over token-id sequences, each ending in a set of entry numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTrie {
    nodes: Vec<Node>,
    sequences: usize,
    depth: usize,
}

impl Default for TokenTrie {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenTrie {
    /// The root node.
    pub const ROOT: u32 = 0;

    /// An empty trie.
    pub fn new() -> Self {
        Self {
            nodes: vec![Node::default()],
            sequences: 0,
            depth: 0,
        }
    }

    /// Adds `tokens` ending in `entry` (an empty sequence is ignored; an entry added twice to
    /// one sequence is kept once).
    pub fn insert(&mut self, tokens: &[u32], entry: u32) {
        if tokens.is_empty() {
            return;
        }
        let mut node = Self::ROOT as usize;
        for &t in tokens {
            let children = &self.nodes[node].children;
            node = match children.binary_search_by_key(&t, |&(tok, _)| tok) {
                Ok(i) => children[i].1 as usize,
                Err(i) => {
                    let child = self.nodes.len() as u32;
                    self.nodes[node].children.insert(i, (t, child));
                    self.nodes.push(Node::default());
                    child as usize
                }
            };
        }
        let entries = &mut self.nodes[node].entries;
        if let Err(i) = entries.binary_search(&entry) {
            if entries.is_empty() {
                self.sequences += 1;
            }
            entries.insert(i, entry);
        }
        self.depth = self.depth.max(tokens.len());
    }

    /// The tokens that may follow `node`, with the node each leads to (sorted by token).
    pub fn children(&self, node: u32) -> &[(u32, u32)] {
        self.nodes
            .get(node as usize)
            .map_or(&[][..], |n| n.children.as_slice())
    }

    /// The entries whose sequence ends at `node` (sorted; empty when none does).
    pub fn entries(&self, node: u32) -> &[u32] {
        self.nodes
            .get(node as usize)
            .map_or(&[][..], |n| n.entries.as_slice())
    }

    /// The node `tokens` lead to from the root, if they are a prefix of some sequence.
    pub fn walk(&self, tokens: &[u32]) -> Option<u32> {
        tokens.iter().try_fold(Self::ROOT, |node, &t| {
            let children = self.children(node);
            children
                .binary_search_by_key(&t, |&(tok, _)| tok)
                .ok()
                .map(|i| children[i].1)
        })
    }

    /// Number of nodes (the root included).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of distinct sequences.
    pub fn sequence_count(&self) -> usize {
        self.sequences
    }

    /// Length of the longest sequence.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Approximate memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                std::mem::size_of::<Node>()
                    + n.children.capacity() * std::mem::size_of::<(u32, u32)>()
                    + n.entries.capacity() * std::mem::size_of::<u32>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefixes_branch_and_sequences_keep_their_entries() {
        let mut trie = TokenTrie::new();
        trie.insert(&[5, 7, 9], 0);
        trie.insert(&[5, 7], 1);
        trie.insert(&[5, 3], 2);
        trie.insert(&[5, 7, 9], 3); // the same name for another entry
        trie.insert(&[5, 7, 9], 0); // again: kept once
        trie.insert(&[], 4); // ignored
        assert_eq!(trie.sequence_count(), 3);
        assert_eq!(trie.depth(), 3);
        let root = trie.children(TokenTrie::ROOT);
        assert_eq!(root.len(), 1);
        let after5: Vec<u32> = trie.children(root[0].1).iter().map(|c| c.0).collect();
        assert_eq!(after5, vec![3, 7]);
        let n57 = trie.walk(&[5, 7]).unwrap();
        assert_eq!(trie.entries(n57), &[1]);
        assert_eq!(trie.entries(trie.walk(&[5, 7, 9]).unwrap()), &[0, 3]);
        assert!(trie.walk(&[7]).is_none());
        assert!(trie.entries(trie.walk(&[5]).unwrap()).is_empty());
        assert!(trie.children(999).is_empty());
    }
}
