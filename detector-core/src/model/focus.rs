//! `Focus` stem of YOLOX: space-to-depth followed by a convolution.
//!
//! Every 2x2 pixel block becomes 4x the channels at half the resolution (YOLOv5's Focus,
//! kept by YOLOX's CSPDarknet), so the first convolution sees a larger field cheaply.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ConvVisitor;
use super::base_conv::{BaseConv, BaseConvConfig};

/// Configuration of [`Focus`].
#[derive(Config, Debug)]
pub struct FocusConfig {
    /// Input channels (3 for an image).
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel size of the convolution after space-to-depth.
    #[config(default = 3)]
    pub kernel_size: usize,
}

/// Space-to-depth then `BaseConv(4 * in, out, k)`.
#[derive(Module, Debug)]
pub struct Focus {
    /// Convolution on the stacked patches.
    pub conv: BaseConv,
}

impl FocusConfig {
    /// Builds the stem.
    pub fn init(&self, device: &Device) -> Focus {
        Focus {
            conv: BaseConvConfig::new(4 * self.in_channels, self.out_channels, self.kernel_size)
                .init(device),
        }
    }
}

impl Focus {
    /// `[B, C, H, W] -> [B, out, H / 2, W / 2]`; `H` and `W` must be even.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(crate::kernels::space_to_depth(x))
    }

    pub(crate) fn visit_convs<'a>(&'a mut self, name: &str, visitor: &mut ConvVisitor<'a>) {
        self.conv.visit_convs(&format!("{name}.conv"), visitor);
    }
}
