//! `CSPLayer` (Cross Stage Partial, Wang et al., arXiv:1911.11929) as used by YOLOX:
//! two 1x1 branches, one through `n` bottlenecks, concatenated and fused by a 1x1.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};
use super::bottleneck::{Bottleneck, BottleneckConfig};
use crate::kernels::{join, on_cpu_pool_device};

/// Configuration of a [`CspLayer`].
#[derive(Config, Debug)]
pub struct CspLayerConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Number of bottlenecks.
    #[config(default = 1)]
    pub depth: usize,
    /// Residual connections inside the bottlenecks.
    #[config(default = true)]
    pub shortcut: bool,
    /// Depthwise-separable 3x3 convolutions in the bottlenecks.
    #[config(default = false)]
    pub depthwise: bool,
}

/// `conv3(cat(m(conv1(x)), conv2(x)))`.
#[derive(Module, Debug)]
pub struct CspLayer {
    /// Branch through the bottlenecks.
    pub conv1: BaseConv,
    /// Shortcut branch.
    pub conv2: BaseConv,
    /// Fusion of both branches.
    pub conv3: BaseConv,
    /// The bottlenecks.
    pub m: Vec<Bottleneck>,
}

impl CspLayerConfig {
    /// Builds the layer (hidden width = half the output, as YOLOX's `expansion=0.5`).
    pub fn init(&self, device: &Device) -> CspLayer {
        let hidden = self.out_channels / 2;
        CspLayer {
            conv1: BaseConvConfig::new(self.in_channels, hidden, 1).init(device),
            conv2: BaseConvConfig::new(self.in_channels, hidden, 1).init(device),
            conv3: BaseConvConfig::new(2 * hidden, self.out_channels, 1).init(device),
            m: (0..self.depth)
                .map(|_| {
                    BottleneckConfig::new(hidden, hidden)
                        .with_shortcut(self.shortcut)
                        .with_depthwise(self.depthwise)
                        .init(device)
                })
                .collect(),
        }
    }
}

impl CspLayer {
    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_parts(vec![x])
    }

    /// `forward(cat(parts, 1))`, where the PAFPN feeds two maps side by side: conv1 and conv2
    /// read the parts directly, so the concatenation is never built on the CPU.
    pub fn forward_parts(&self, parts: Vec<Tensor<4>>) -> Tensor<4> {
        let on_cpu = parts.first().is_some_and(on_cpu_pool_device);
        // The two branches are independent: side by side on the CPU pool.
        let (x1, x2) = join(
            on_cpu,
            || {
                let x1 = self.conv1.forward_cat(parts.clone());
                self.m.iter().fold(x1, |x, block| block.forward(x))
            },
            || self.conv2.forward_cat(parts.clone()),
        );
        self.conv3.forward_cat(vec![x1, x2])
    }

    /// Execution order of YOLOX's forward (conv1, conv2, bottlenecks, conv3), which is also the
    /// order of the convolutions in an ONNX export.
    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.conv1.visit_convs(&format!("{name}.conv1"), visitor);
        self.conv2.visit_convs(&format!("{name}.conv2"), visitor);
        for (i, block) in self.m.iter_mut().enumerate() {
            block.visit_convs(&format!("{name}.m.{i}"), visitor);
        }
        self.conv3.visit_convs(&format!("{name}.conv3"), visitor);
    }
}
