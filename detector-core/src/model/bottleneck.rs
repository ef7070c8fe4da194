//! `Bottleneck` of YOLOX's CSP layers: 1x1 reduce, 3x3 (possibly depthwise), optional residual.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};
use super::dw_conv::MaybeDwConv;

/// Configuration of a [`Bottleneck`].
#[derive(Config, Debug)]
pub struct BottleneckConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Add the input to the output (only when the channel counts match).
    #[config(default = true)]
    pub shortcut: bool,
    /// Hidden width as a fraction of `out_channels`.
    #[config(default = 1.0)]
    pub expansion: f64,
    /// Depthwise-separable 3x3.
    #[config(default = false)]
    pub depthwise: bool,
}

/// `y = conv2(conv1(x)) (+ x)`.
#[derive(Module, Debug)]
pub struct Bottleneck {
    /// 1x1 reduction.
    pub conv1: BaseConv,
    /// 3x3 convolution.
    pub conv2: MaybeDwConv,
    /// Residual connection.
    pub use_add: bool,
}

impl BottleneckConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> Bottleneck {
        let hidden = (self.out_channels as f64 * self.expansion) as usize;
        Bottleneck {
            conv1: BaseConvConfig::new(self.in_channels, hidden, 1).init(device),
            conv2: MaybeDwConv::init(self.depthwise, hidden, self.out_channels, 3, 1, device),
            use_add: self.shortcut && self.in_channels == self.out_channels,
        }
    }
}

impl Bottleneck {
    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv2.forward(self.conv1.forward(x.clone()));
        if self.use_add { y + x } else { y }
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.conv1.visit_convs(&format!("{name}.conv1"), visitor);
        self.conv2.visit_convs(&format!("{name}.conv2"), visitor);
    }
}
