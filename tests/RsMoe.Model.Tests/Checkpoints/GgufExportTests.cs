using RsMoe.Model.Checkpoints.Gguf;
using RsMoe.Model.Configs;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Moe;
using RsMoe.Model.Tokenizers;
using RsMoe.Peers;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Checkpoints;

/// <summary>GGUF export checked by llama.cpp itself: it loads our file and computes what our model computes.</summary>
public sealed class GgufExportTests : IDisposable
{
    readonly string directory = Directory.CreateTempSubdirectory("rsmoe-gguf-").FullName;

    static GgufExportTests() => LlamaCppRunner.QuietNativeLog();

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Q8_0_blocks_round_to_within_half_a_step_and_bf16_rounds_to_nearest_even()
    {
        var random = new Random(3);
        var values = Enumerable.Range(0, 256).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        values[40] = 0;   // a block may hold zeros; one block is all zeros
        for (int i = 64; i < 96; i++) values[i] = 0;
        var bytes = GgmlEncoding.Encode(GgmlType.Q8_0, values);
        Assert.Equal(256 / 32 * 34, bytes.Length);
        var back = GgmlEncoding.Decode(GgmlType.Q8_0, bytes, values.Length);
        for (int block = 0; block < 8; block++)
        {
            float step = values.Skip(block * 32).Take(32).Max(MathF.Abs) / 127f;
            // Half a step from rounding to int8, plus the scale's own rounding to fp16 (2^-11 relative) times up to 127 steps.
            float bound = step * (0.5f + 127f / 2048f) + 1e-6f;
            for (int i = block * 32; i < block * 32 + 32; i++) Assert.True(MathF.Abs(back[i] - values[i]) <= bound, $"value {i}: {values[i]} came back {back[i]}");
        }
        Assert.All(back.Skip(64).Take(32), v => Assert.Equal(0f, v));

        Assert.Equal(0x3F80, GgmlEncoding.ToBFloat16(1f));
        Assert.Equal(0x3F80, GgmlEncoding.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000)));   // tie → even
        Assert.Equal(0x3F82, GgmlEncoding.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000)));   // tie → even, up
        Assert.Equal(0x3F81, GgmlEncoding.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.Throws<ArgumentException>(() => GgmlEncoding.ByteCount(GgmlType.Q8_0, 688, 688));
    }

    /// <summary>Grouped-query attention, untied head and Llama 3's RoPE scaling: the parts of the export that reorder or add tensors.</summary>
    [Fact]
    public void Llama_cpp_computes_the_same_logits_and_greedy_tokens_as_our_model_from_an_f32_export()
    {
        var config = LlamaConfig.Tiny with { RopeScaling = new RopeScaling { OriginalMaxPositionEmbeddings = 64 }, NumHiddenLayers = 2 };
        using var lm = LlamaForCausalLM.Create(config, seed: 11);
        lm.InitializeWeights(std: 0.05, seed: 11);   // larger than the default 0.02, so logits spread and greedy has no near-ties
        string path = Path.Combine(directory, "tiny-f32.gguf");
        var result = LlamaGgufExporter.Export(lm, path, GgmlType.F32);
        Assert.Equal(2 + 2 * 9 + 1 + (config.RopeScaling is null ? 0 : 1), result.Tensors);   // embeddings, 9 per layer, norm, head, rope_freqs

        var prompt = Enumerable.Range(0, 40).Select(i => 3 + i * 37 % 31000).ToArray();
        // An F32 cache without flash attention: llama.cpp's defaults (an F16 cache, flash attention) move logits by ~1e-3.
        using var llamaCpp = new LlamaCppRunner(path, threads: 2, exactCache: true);
        var theirs = llamaCpp.Logits(prompt);
        var ours = OurLogits(lm, prompt);
        Assert.Equal(ours.Length, theirs.Length);
        double scale = ours.Max(MathF.Abs);
        Assert.True(MaxDifference(ours, theirs) < 1e-5 * scale, $"max |Δlogit| {MaxDifference(ours, theirs)} against max |logit| {scale}");

        var greedy = new TextGenerator(lm).Generate(prompt, new GenerationOptions { MaxNewTokens = 24, StopTokenIds = [] }).Tokens[0];
        Assert.Equal(greedy, llamaCpp.Greedy(prompt, 24).Tokens);
    }

    /// <summary>The shipped language model (tied head, a word vocabulary) in every type llama.cpp is given.</summary>
    [Theory]
    [InlineData("f32", 1e-5, 24)]
    [InlineData("f16", 2e-2, 0)]
    [InlineData("bf16", 8e-2, 0)]
    [InlineData("q8_0", 8e-2, 0)]
    public void Llama_cpp_runs_the_default_language_model_exported_as(string type, double tolerance, int greedyTokens)
    {
        string llm = Path.Combine(ModelLocator.DefaultModelDirectory(), "llm");
        var tokenizer = TokenizerLoader.FromDirectory(ModelLocator.DefaultModelDirectory());
        using var lm = LlamaForCausalLM.FromPretrained(llm);
        string path = Path.Combine(directory, $"default-{type}.gguf");
        var result = LlamaGgufExporter.Export(lm, path, LlamaGgufExporter.ParseType(type), tokenizer);
        Assert.Equal(type == "q8_0" ? Enumerable.Range(0, 4).Select(i => $"blk.{i}.ffn_down.weight") : [], result.KeptAsF16);

        var prompt = tokenizer.Encode("a residential area with many houses and green trees").ToArray();
        using var llamaCpp = new LlamaCppRunner(path, threads: 2, exactCache: true);   // only the weights' type differs
        var ours = OurLogits(lm, prompt);
        var theirs = llamaCpp.Logits(prompt);
        double scale = ours.Max(MathF.Abs);
        Assert.True(MaxDifference(ours, theirs) < tolerance * scale, $"{type}: max |Δlogit| {MaxDifference(ours, theirs)} against max |logit| {scale}");
        Assert.Equal(ArgMax(ours), ArgMax(theirs));
        if (greedyTokens > 0)
        {
            var greedy = new TextGenerator(lm).Generate(prompt, new GenerationOptions { MaxNewTokens = greedyTokens, StopTokenIds = tokenizer.EosTokenIds }).Tokens[0];
            Assert.Equal(greedy, llamaCpp.Greedy(prompt, greedyTokens, tokenizer.EosTokenIds.ToHashSet()).Tokens);
        }
    }

    [Fact]
    public void A_q8_0_export_keeps_rows_that_are_not_whole_blocks_in_f16_and_refuses_what_it_cannot_write()
    {
        using var lm = LlamaForCausalLM.Create(LlamaConfig.Tiny with { NumHiddenLayers = 1, AttentionBias = true }, seed: 1);
        Assert.Throws<NotSupportedException>(() => LlamaGgufExporter.Export(lm, Path.Combine(directory, "bias.gguf"), GgmlType.F16));
        Assert.False(File.Exists(Path.Combine(directory, "bias.gguf")));
        Assert.Throws<ArgumentException>(() => LlamaGgufExporter.ParseType("q4_k"));
    }

    static float[] OurLogits(LlamaForCausalLM lm, int[] ids)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = lm.NewCache(1, ids.Length + 1);
        var input = tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        var positions = arange(ids.Length, ScalarType.Int64).unsqueeze(0);
        return lm.Forward(lm.Embed(input), positions, null, cache, logitsToKeep: 1).to_type(ScalarType.Float32).flatten().data<float>().ToArray();
    }

    static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
