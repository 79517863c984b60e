using RsMoe.Model.Tests.Support;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Vision;

public sealed class EvaVisionModelTests
{
    [Fact]
    public void StateDictNamesAreInstructBlipVisionModelNames()
    {
        using var model = new EvaVisionModel(TinyVlm.Vision);
        var expected = new List<string>
        {
            "embeddings.class_embedding", "embeddings.patch_embedding.weight", "embeddings.patch_embedding.bias", "embeddings.position_embedding",
            "post_layernorm.weight", "post_layernorm.bias",
        };
        for (int i = 0; i < 2; i++)
            foreach (var suffix in new[] { "self_attn.qkv.weight", "self_attn.q_bias", "self_attn.v_bias", "self_attn.projection.weight",
                         "self_attn.projection.bias", "layer_norm1.weight", "layer_norm1.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                         "mlp.fc2.weight", "mlp.fc2.bias", "layer_norm2.weight", "layer_norm2.bias" })
                expected.Add($"encoder.layers.{i}.{suffix}");
        Assert.Equal(expected.OrderBy(k => k), model.state_dict().Keys.OrderBy(k => k));
        Assert.Equal(new long[] { 1, 17, 32 }, model.state_dict()["embeddings.position_embedding"].shape);
    }

    [Fact]
    public void FusedQkvHasNoKeyBias()
    {
        using var scope = NewDisposeScope();
        var config = TinyVlm.Vision;
        using var attention = new EvaAttention(config);
        var state = attention.state_dict();
        using (no_grad())
        {
            state["q_bias"].normal_();
            state["v_bias"].normal_();
        }
        var x = randn(2, 5, 32);
        var w = state["qkv.weight"];
        var q = nn.functional.linear(x, w.narrow(0, 0, 32), state["q_bias"]);
        var k = nn.functional.linear(x, w.narrow(0, 32, 32));
        var v = nn.functional.linear(x, w.narrow(0, 64, 32), state["v_bias"]);
        Tensor Heads(Tensor t) => t.view(2, 5, 4, 8).transpose(1, 2);
        var scores = Heads(q).matmul(Heads(k).transpose(-1, -2)) / Math.Sqrt(8);
        var manual = scores.softmax(-1).matmul(Heads(v)).transpose(1, 2).reshape(2, 5, 32);
        var expected = nn.functional.linear(manual, state["projection.weight"], state["projection.bias"]);
        Assert.True(expected.allclose(attention.call(x), 1e-5, 1e-5));
    }

    [Fact]
    public void VisualTokensHaveTheClassTokenPlusOnePerPatch()
    {
        using var scope = NewDisposeScope();
        using var model = new EvaVisionModel(TinyVlm.Vision);
        model.eval();
        var tokens = model.call(randn(2, 3, 28, 28));
        Assert.Equal(new long[] { 2, 17, 32 }, tokens.shape);
        // A larger image gets interpolated positions rather than an error.
        Assert.Equal(new long[] { 1, 1 + 36, 32 }, model.call(randn(1, 3, 42, 42)).shape);
    }

    [Fact]
    public void PositionInterpolationKeepsTheTrainedGridAndTheClassPosition()
    {
        using var scope = NewDisposeScope();
        using var embeddings = new EvaVisionEmbeddings(TinyVlm.Vision);
        var trained = embeddings.PositionsFor(4, 4);
        Assert.Equal(new long[] { 1, 17, 32 }, trained.shape);
        var larger = embeddings.PositionsFor(8, 6);
        Assert.Equal(new long[] { 1, 49, 32 }, larger.shape);
        Assert.True(larger.narrow(1, 0, 1).allclose(trained.narrow(1, 0, 1)));
        // Bicubic resampling to the same grid returns it unchanged.
        var table = embeddings.state_dict()["position_embedding"];
        Assert.True(table.allclose(trained));
    }
}
