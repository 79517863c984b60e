using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Support;

public static class TinyModels
{
    /// <summary>A very small random Llama with grouped-query attention and llama3 RoPE scaling.</summary>
    public static LlamaConfig GqaConfig => new()
    {
        VocabSize = 97, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        RopeTheta = 500000, RopeScaling = new RopeScaling { Factor = 32, OriginalMaxPositionEmbeddings = 64 },
        TieWordEmbeddings = true, BosTokenId = 1, EosTokenId = [2], MaxPositionEmbeddings = 256,
    };

    public static LlamaForCausalLM RandomLlama(LlamaConfig? config = null, long seed = 7, ScalarType dtype = ScalarType.Float32)
    {
        var lm = LlamaForCausalLM.Create(config ?? GqaConfig, dtype, seed: seed);
        // Larger random weights than the default init, so logits differ clearly between tokens; drawn from a
        // generator of this call's own, so the same seed gives the same weights whatever other tests do meanwhile.
        using var generator = new Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, p) in lm.named_parameters())
                if (name.EndsWith("layernorm.weight") || name.EndsWith("norm.weight")) p.uniform_(0.5, 1.5, generator);
                else p.normal_(0, 0.2, generator);
        return lm;
    }

    /// <summary>An fp32 model of the same shape holding <paramref name="source"/>'s values, widened (the reference for bf16 or 8-bit decoding).</summary>
    public static LlamaForCausalLM Fp32Twin(LlamaForCausalLM source)
    {
        var twin = LlamaForCausalLM.Create(source.Config, ScalarType.Float32);
        using var noGrad = no_grad();
        var values = source.state_dict();
        foreach (var (name, p) in twin.state_dict()) p.copy_(values[name].to_type(ScalarType.Float32));
        return twin;
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "rsmoe-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
