//! `DWConv` of YOLOX: a depthwise `k x k` convolution followed by a pointwise `1 x 1` one.
//!
//! Used instead of [`BaseConv`] by the small YOLOX models (Nano)
//! to cut multiply-adds (YOLOX paper, section 3, and MobileNets, arXiv:1704.04861).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};

/// Configuration of a [`DwConv`].
#[derive(Config, Debug)]
pub struct DwConvConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size of the depthwise part.
    pub kernel_size: usize,
    /// Stride of the depthwise part.
    #[config(default = 1)]
    pub stride: usize,
}

/// Depthwise-separable convolution: `dconv` (groups = channels) then `pconv` (1x1).
#[derive(Module, Debug)]
pub struct DwConv {
    /// Depthwise convolution.
    pub dconv: BaseConv,
    /// Pointwise convolution.
    pub pconv: BaseConv,
}

impl DwConvConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> DwConv {
        DwConv {
            dconv: BaseConvConfig::new(self.in_channels, self.in_channels, self.kernel_size)
                .with_stride(self.stride)
                .with_groups(self.in_channels)
                .init(device),
            pconv: BaseConvConfig::new(self.in_channels, self.out_channels, 1).init(device),
        }
    }
}

impl DwConv {
    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.pconv.forward(self.dconv.forward(x))
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.dconv.visit_convs(&format!("{name}.dconv"), visitor);
        self.pconv.visit_convs(&format!("{name}.pconv"), visitor);
    }
}

/// A 3x3-style convolution that is either plain ([`BaseConv`]) or depthwise-separable
/// ([`DwConv`]), as YOLOX's `Conv = DWConv if depthwise else BaseConv`.
// A few dozen per network, built once: the size difference costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum MaybeDwConv {
    /// Plain convolution.
    Plain(BaseConv),
    /// Depthwise-separable convolution.
    Depthwise(DwConv),
}

impl MaybeDwConv {
    /// Builds the right variant.
    pub fn init(
        depthwise: bool,
        in_channels: usize,
        out_channels: usize,
        kernel_size: usize,
        stride: usize,
        device: &Device,
    ) -> Self {
        if depthwise {
            Self::Depthwise(
                DwConvConfig::new(in_channels, out_channels, kernel_size)
                    .with_stride(stride)
                    .init(device),
            )
        } else {
            Self::Plain(
                BaseConvConfig::new(in_channels, out_channels, kernel_size)
                    .with_stride(stride)
                    .init(device),
            )
        }
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Plain(conv) => conv.forward(x),
            Self::Depthwise(conv) => conv.forward(x),
        }
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        match self {
            Self::Plain(conv) => conv.visit_convs(name, visitor),
            Self::Depthwise(conv) => conv.visit_convs(name, visitor),
        }
    }
}
