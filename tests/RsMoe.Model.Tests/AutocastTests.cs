using RsMoe.Model.Lora;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests;

public sealed class AutocastTests
{
    [Fact]
    public void Bf16AutocastKeepsFp32WeightsAndGradientsAndCloseLogits()
    {
        using var lm = TinyModels.RandomLlama();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 5, 9, 13, 20 }).unsqueeze(0);
        var reference = lm.Forward(ids);
        Tensor cast;
        using (Autocast.Bf16()) cast = lm.Forward(ids);
        Assert.False(Autocast.IsBf16);
        Assert.Equal(ScalarType.Float32, cast.dtype);
        Assert.False(reference.allclose(cast, 0, 0), "bf16 matmuls should round differently");
        double diff = (reference - cast).abs().max().item<float>(), scale = reference.abs().max().item<float>();
        Assert.True(diff < 0.05 * scale, $"bf16 autocast moved logits by {diff} (scale {scale})");

        lm.train();
        using (Autocast.Bf16()) lm.Forward(ids).square().mean().backward();
        var grad = lm.named_parameters().First(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter.grad;
        Assert.NotNull(grad);
        Assert.Equal(ScalarType.Float32, grad!.dtype);
        Assert.True(grad.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Bf16AutocastLeavesAnAdaptersLowRankProductInFp32()
    {
        using var layer = new LoraLinear(64, 32, hasBias: false);
        layer.AttachAdapter(new LoraSettings { R = 4, LoraDropout = 0 });
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            layer.Weight.zero_();   // the base product is then exactly zero in bf16 too: the output is the adapter's alone
            layer.LoraB!.weight!.normal_();
        }
        layer.eval();
        var x = randn(3, 64);
        var reference = layer.call(x);
        Tensor cast;
        using (Autocast.Bf16()) cast = layer.call(x);
        Assert.True(reference.abs().sum().item<float>() > 0);
        Assert.True(reference.allclose(cast, 0, 0), "the adapter's product should not be rounded to bf16");
    }
}
