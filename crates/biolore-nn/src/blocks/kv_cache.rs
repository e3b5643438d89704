//! The key/value cache of incremental decoding: each step attends over everything before it.

use candle_core::Tensor;

/// Keys and values `[batch, kv_heads, seen, head_dim]` of the positions one layer has seen.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    keys: Option<Tensor>,
    values: Option<Tensor>,
}

impl KvCache {
    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.dims()[2])
    }

    /// True before the first step.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends this step's keys and values; returns all keys and values so far.
    pub fn append(&mut self, k: &Tensor, v: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (k, v) = match (&self.keys, &self.values) {
            (Some(pk), Some(pv)) => (Tensor::cat(&[pk, k], 2)?, Tensor::cat(&[pv, v], 2)?),
            _ => (k.clone(), v.clone()),
        };
        self.keys = Some(k.clone());
        self.values = Some(v.clone());
        Ok((k, v))
    }

    /// The cache of the batch rows `rows` (repeats allowed): a beam search's surviving beams.
    pub fn select(&self, rows: &Tensor) -> candle_core::Result<Self> {
        Ok(Self {
            keys: self
                .keys
                .as_ref()
                .map(|k| k.index_select(rows, 0))
                .transpose()?,
            values: self
                .values
                .as_ref()
                .map(|v| v.index_select(rows, 0))
                .transpose()?,
        })
    }

    /// Drops every cached position after the first `len` (to reuse a shared prefix).
    pub fn truncate(&mut self, len: usize) -> candle_core::Result<()> {
        if len >= self.len() {
            return Ok(());
        }
        if len == 0 {
            *self = Self::default();
            return Ok(());
        }
        self.keys = self
            .keys
            .as_ref()
            .map(|k| k.narrow(2, 0, len))
            .transpose()?;
        self.values = self
            .values
            .as_ref()
            .map(|v| v.narrow(2, 0, len))
            .transpose()?;
        Ok(())
    }
}

/// One [`KvCache`] per decoder layer.
#[derive(Debug, Clone)]
pub struct DecoderCache {
    layers: Vec<KvCache>,
}

impl DecoderCache {
    /// An empty cache for a model of `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![KvCache::default(); layers],
        }
    }

    /// Number of positions cached (equal in every layer).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::len)
    }

    /// True before the first step.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache of layer `i`.
    pub fn layer_mut(&mut self, i: usize) -> Option<&mut KvCache> {
        self.layers.get_mut(i)
    }

    /// The cache of the batch rows `rows` in every layer (rows may repeat).
    pub fn select(&self, rows: &[u32]) -> candle_core::Result<Self> {
        let Some(device) = self
            .layers
            .iter()
            .find_map(|l| l.keys.as_ref().map(Tensor::device))
        else {
            return Ok(self.clone());
        };
        let rows = Tensor::from_slice(rows, rows.len(), device)?;
        Ok(Self {
            layers: self
                .layers
                .iter()
                .map(|l| l.select(&rows))
                .collect::<candle_core::Result<_>>()?,
        })
    }

    /// Keeps only the first `len` positions in every layer.
    pub fn truncate(&mut self, len: usize) -> candle_core::Result<()> {
        self.layers.iter_mut().try_for_each(|l| l.truncate(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn appending_grows_and_truncating_keeps_a_prefix() {
        let dev = Device::Cpu;
        let step = |v: f32, t: usize| {
            (Tensor::ones((1, 2, t, 4), DType::F32, &dev).unwrap() * f64::from(v)).unwrap()
        };
        let mut cache = DecoderCache::new(2);
        assert!(cache.is_empty());
        for layer in 0..2 {
            let c = cache.layer_mut(layer).unwrap();
            c.append(&step(1.0, 3), &step(1.0, 3)).unwrap();
            let (k, _) = c.append(&step(2.0, 1), &step(2.0, 1)).unwrap();
            assert_eq!(k.dims(), &[1, 2, 4, 4]);
        }
        assert_eq!(cache.len(), 4);
        cache.truncate(3).unwrap();
        assert_eq!(cache.len(), 3);
        let c = cache.layer_mut(0).unwrap();
        let (k, _) = c.append(&step(5.0, 1), &step(5.0, 1)).unwrap();
        let firsts: Vec<f32> = (0..4)
            .map(|t| {
                k.get(0)
                    .unwrap()
                    .get(0)
                    .unwrap()
                    .get(t)
                    .unwrap()
                    .get(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            })
            .collect();
        assert_eq!(firsts, vec![1.0, 1.0, 1.0, 5.0]);
        cache.truncate(0).unwrap();
        assert!(cache.layer_mut(1).unwrap().is_empty());
        assert!(cache.layer_mut(2).is_none());
    }
}
