using RsMoe.Model.QFormer;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.QFormer;

public sealed class QFormerTests
{
    static VlmEncoder NewEncoder(long seed = 3)
    {
        manual_seed(seed);
        var encoder = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, llmHiddenSize: 32, TinyVlm.Router);
        encoder.eval();
        return encoder;
    }

    [Fact]
    public void StateDictNamesAreInstructBlipQFormerNames()
    {
        using var encoder = NewEncoder();
        var keys = encoder.state_dict().Keys.Where(k => !k.StartsWith("router.")).ToHashSet();
        Assert.Contains("query_tokens", keys);
        Assert.Contains("language_projection.weight", keys);
        Assert.Contains("qformer.embeddings.word_embeddings.weight", keys);
        Assert.Contains("qformer.embeddings.position_embeddings.weight", keys);
        Assert.Contains("qformer.embeddings.layernorm.weight", keys);
        foreach (var layer in Enumerable.Range(0, 4))
        {
            string p = $"qformer.encoder.layer.{layer}.";
            foreach (var name in new[] { "attention.attention.query.weight", "attention.attention.key.bias", "attention.attention.value.weight",
                         "attention.output.dense.weight", "attention.output.LayerNorm.weight", "intermediate.dense.weight",
                         "output.dense.weight", "output.LayerNorm.bias", "intermediate_query.dense.weight", "output_query.dense.weight",
                         "output_query.LayerNorm.weight" })
                Assert.Contains(p + name, keys);
            // Cross-attention every second layer, starting at layer 0; its keys and values come from the image width.
            Assert.Equal(layer % 2 == 0, keys.Contains(p + "crossattention.attention.key.weight"));
        }
        Assert.Equal(new long[] { 24, 32 }, encoder.state_dict()["qformer.encoder.layer.0.crossattention.attention.key.weight"].shape);
        Assert.Equal(new long[] { 1, TinyVlm.Queries, 24 }, encoder.state_dict()["query_tokens"].shape);
    }

    [Fact]
    public void InstructionShapesTheQueriesAndPaddingDoesNot()
    {
        using var scope = NewDisposeScope();
        using var encoder = NewEncoder();
        var image = randn(1, 17, 32);
        var a = tensor(new long[] { 101, 2054, 2003, 1999, 102 }).unsqueeze(0);
        var b = tensor(new long[] { 101, 2129, 2116, 3765, 102 }).unsqueeze(0);
        var ones5 = ones(1, 5, dtype: ScalarType.Int64);
        using var outA = encoder.Forward(image, a, ones5);
        using var outB = encoder.Forward(image, b, ones5);
        Assert.False(outA.VisualPrefix.allclose(outB.VisualPrefix, 1e-4, 1e-4), "the instruction must change the query outputs");

        var padded = cat([a, zeros(1, 3, dtype: ScalarType.Int64)], 1);
        var paddedMask = cat([ones5, zeros(1, 3, dtype: ScalarType.Int64)], 1);
        using var outPadded = encoder.Forward(image, padded, paddedMask);
        Assert.True(outA.VisualPrefix.allclose(outPadded.VisualPrefix, 1e-5, 1e-5), "padding must not change the query outputs");
        Assert.True(outA.Routing.GateLogits.allclose(outPadded.Routing.GateLogits, 1e-5, 1e-5), "padding must not change the gate");
    }

    [Fact]
    public void QueriesSeeTheImage()
    {
        using var scope = NewDisposeScope();
        using var encoder = NewEncoder();
        using var one = encoder.Forward(randn(1, 17, 32), null, null);
        using var other = encoder.Forward(randn(1, 17, 32), null, null);
        Assert.Equal(new long[] { 1, TinyVlm.Queries, 32 }, one.VisualPrefix.shape);
        Assert.False(one.VisualPrefix.allclose(other.VisualPrefix, 1e-4, 1e-4));
    }

    [Fact]
    public void RouterStartsFromItsTextPromptsAndGatesOverExperts()
    {
        using var scope = NewDisposeScope();
        using var encoder = NewEncoder();
        var textEmbedding = randn(4, 32);
        encoder.Router.InitialisePrompt(1, textEmbedding);
        using var output = encoder.Forward(randn(2, 17, 32), tensor(new long[] { 101, 2054, 102 }).unsqueeze(0).expand(2, -1), ones(2, 3, dtype: ScalarType.Int64));
        Assert.Equal(new long[] { 2, 3, 3, 32 }, output.Routing.Prompts.shape);
        // Fresh offsets are zero, so expert 1's prompt is the text embedding repeated to the prompt length (3 of 4 rows).
        Assert.True(output.Routing.Prompts[0, 1].allclose(textEmbedding.narrow(0, 0, 3)));
        var gate = output.Routing.Gate();
        Assert.True(gate.sum(-1).allclose(ones(2)));
        Assert.Equal(new long[] { TinyVlm.Queries + 3, 32 }, output.ExpertPrefix(0, 2).shape);
    }

    [Fact]
    public void RouterOffsetsLearnFromTheGradient()
    {
        using var scope = NewDisposeScope();
        using var encoder = NewEncoder();
        encoder.train();
        using var output = encoder.Forward(randn(1, 17, 32), null, null);
        (output.Routing.Prompts.square().sum() + output.Routing.GateLogits.sum()).backward();
        var grads = encoder.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        Assert.NotNull(grads["router.offsets.0.weight"]);
        Assert.True(grads["router.soft_prompts"]!.abs().sum().item<float>() > 0);
        Assert.True(grads["router.gate.weight"]!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void SummaryTokenIsTheMeanOfTheVisualTokensPlusItsOffsetBeforeThem()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var withSummary = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, 32, TinyVlm.Router, summaryToken: true);
        using var without = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, 32, TinyVlm.Router);
        withSummary.eval();
        without.eval();
        Assert.True(withSummary.HasSummaryToken);
        Assert.False(without.HasSummaryToken);
        var offset = randn(1, 1, 32);
        using (no_grad())
        {
            var weights = withSummary.state_dict();
            weights["visual_summary"].copy_(offset);
            // Every other weight is shared, so the only difference is the token put in front.
            foreach (var (name, value) in without.state_dict()) value.copy_(weights[name]);
        }
        Assert.Equal(new long[] { 1, 1, 32 }, withSummary.state_dict()["visual_summary"].shape);

        var image = randn(2, 17, 32);
        var ids = tensor(new long[] { 101, 2054, 102 }).unsqueeze(0).expand(2, -1);
        var mask = ones(2, 3, dtype: ScalarType.Int64);
        using var summarised = withSummary.Forward(image, ids, mask);
        using var byHand = without.Forward(cat([image.mean([1], keepdim: true) + offset, image], 1), ids, mask);
        using var plain = without.Forward(image, ids, mask);
        Assert.True(summarised.VisualPrefix.allclose(byHand.VisualPrefix, 1e-5, 1e-5));
        Assert.True(summarised.Routing.GateLogits.allclose(byHand.Routing.GateLogits, 1e-5, 1e-5));
        Assert.False(summarised.VisualPrefix.allclose(plain.VisualPrefix, 1e-4, 1e-4), "the summary token must reach the queries");
    }
}
