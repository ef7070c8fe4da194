//! `SPPBottleneck`: spatial pyramid pooling (He et al., arXiv:1406.4729) as in YOLOv3-SPP and
//! YOLOX: max-pools of several sizes at stride 1, concatenated.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};

/// Configuration of an [`SppBottleneck`].
#[derive(Config, Debug)]
pub struct SppBottleneckConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Pooling kernel sizes.
    #[config(default = "[5, 9, 13]")]
    pub kernel_sizes: [usize; 3],
}

/// `conv2(cat(x, pool5(x), pool9(x), pool13(x)))` with `x = conv1(input)`.
///
/// The pools run as a cascade, as YOLOv5's SPPF does: a stride-1 "same" max-pool of size `a`
/// followed by one of size `b` is exactly a max-pool of size `a + b - 1` (the windows compose
/// and padding never wins a max it would not win alone), so pool9 = pool5(pool5) and
/// pool13 = pool5(pool9): 75 comparisons per value instead of 275, same result.
#[derive(Module, Debug)]
pub struct SppBottleneck {
    /// 1x1 reduction to half the channels.
    pub conv1: BaseConv,
    /// Cascade stages: stage `i` turns pool `k[i-1]` (the input for `i = 0`) into pool `k[i]`.
    pub pools: Vec<MaxPool2d>,
    /// 1x1 fusion.
    pub conv2: BaseConv,
}

impl SppBottleneckConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> SppBottleneck {
        let hidden = self.in_channels / 2;
        let mut sizes = self.kernel_sizes;
        sizes.sort_unstable();
        let pools = sizes
            .iter()
            .scan(1, |previous, &k| {
                // Window that takes pool `previous` to pool `k` (k >= previous, both odd).
                let stage = k + 1 - *previous;
                *previous = k;
                Some(stage)
            })
            .map(|k| {
                let p = k / 2;
                MaxPool2dConfig::new([k, k])
                    .with_strides([1, 1])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init()
            })
            .collect::<Vec<_>>();
        SppBottleneck {
            conv1: BaseConvConfig::new(self.in_channels, hidden, 1).init(device),
            conv2: BaseConvConfig::new(hidden * (pools.len() + 1), self.out_channels, 1)
                .init(device),
            pools,
        }
    }
}

impl SppBottleneck {
    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv1.forward(x);
        let mut parts = vec![x];
        for pool in &self.pools {
            let previous = parts.last().expect("starts with x").clone();
            parts.push(crate::kernels::max_pool_same(previous, pool));
        }
        self.conv2.forward_cat(parts)
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.conv1.visit_convs(&format!("{name}.conv1"), visitor);
        self.conv2.visit_convs(&format!("{name}.conv2"), visitor);
    }
}
