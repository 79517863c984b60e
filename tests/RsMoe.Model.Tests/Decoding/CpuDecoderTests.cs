using RsMoe.Model.Configs;
using RsMoe.Model.Decoding;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Decoding;

/// <summary>The CPU decoder against libtorch's forward pass of the same model: the numbers, not just the tokens.</summary>
public sealed class CpuDecoderTests
{
    /// <summary>Wide enough for the 16-wide bf16 blocks and the 4-row kernel, odd enough for their tails, with biases and GQA.</summary>
    static LlamaConfig Config => TinyModels.GqaConfig with
    {
        VocabSize = 131, HiddenSize = 72, IntermediateSize = 150, NumHiddenLayers = 3, NumAttentionHeads = 6, NumKeyValueHeads = 2,
        HeadDim = 12, AttentionBias = true, MlpBias = true, TieWordEmbeddings = false,
    };

    static readonly long[] Ids = [1, 5, 9, 33, 12, 70, 4, 18, 40, 2, 64, 100, 7, 7, 3];

    /// <summary>Prefills the first <paramref name="prefill"/> ids with libtorch, then feeds the rest one by one to the CPU decoder.</summary>
    static List<float[]> DecodeOnCpu(LlamaForCausalLM lm, long[] ids, int prefill, int threads = 2)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = lm.NewCache(1, prefill);
        var first = lm.Forward(lm.Embed(tensor(ids[..prefill]).unsqueeze(0)), arange(prefill, ScalarType.Int64).unsqueeze(0), null, cache);
        var decoder = new CpuDecoder(lm, threads);
        var sequence = decoder.NewSequence(4);   // small on purpose: it must grow
        decoder.Adopt(sequence, cache, 0, prefill);
        var logits = new List<float[]> { first[0, -1].to_type(ScalarType.Float32).data<float>().ToArray() };
        for (int i = prefill; i < ids.Length; i++)
        {
            decoder.Step([sequence], [(int)ids[i]]);
            logits.Add(decoder.Logits(0).ToArray());
        }
        Assert.Equal(ids.Length, sequence.Length);
        return logits;
    }

    /// <summary>libtorch's logits at positions prefill-1 … end, from one full causal pass.</summary>
    static List<float[]> FullPass(LlamaForCausalLM lm, long[] ids, int prefill)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var full = lm.Forward(tensor(ids).unsqueeze(0))[0].to_type(ScalarType.Float32);
        return Enumerable.Range(prefill - 1, ids.Length - prefill + 1).Select(i => full[i].data<float>().ToArray()).ToList();
    }

    static double MaxDifference(List<float[]> a, List<float[]> b) =>
        a.Zip(b).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs(x.First - x.Second)));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Fp32StepsGiveTheLogitsOfTheFullPass(int threads)
    {
        using var lm = TinyModels.RandomLlama(Config);
        double diff = MaxDifference(DecodeOnCpu(lm, Ids, 5, threads), FullPass(lm, Ids, 5));
        Assert.True(diff < 1e-3, $"CPU decode differs from libtorch by {diff}");
    }

    [Fact]
    public void ProjectionsSplitAcrossTheThreadTeamGiveTheLogitsOfTheFullPass()
    {
        // Wide enough that every projection group is split across the two threads (the config above runs on one).
        var config = Config with { VocabSize = 300, HiddenSize = 256, IntermediateSize = 690, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 64 };
        using var lm = TinyModels.RandomLlama(config);
        double diff = MaxDifference(DecodeOnCpu(lm, Ids, 5, threads: 2), FullPass(lm, Ids, 5));
        Assert.True(diff < 1e-3, $"CPU decode on two threads differs from libtorch by {diff}");
    }

    [Fact]
    public void Bf16WeightsDecodeAsTheirFp32WideningDoes()
    {
        // The decoder computes in fp32 from bf16 weights, so its reference is the fp32 model holding those same values.
        using var bf16 = TinyModels.RandomLlama(Config, dtype: ScalarType.BFloat16);
        using var widened = Widened(bf16);
        // Prefill on the fp32 twin too: the check is the decode steps.
        var reference = FullPass(widened, Ids, 5);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var cache = widened.NewCache(1, 5);
        widened.Forward(widened.Embed(tensor(Ids[..5]).unsqueeze(0)), arange(5L).unsqueeze(0), null, cache);
        var decoder = new CpuDecoder(bf16);
        var sequence = decoder.NewSequence(32);
        decoder.Adopt(sequence, cache, 0, 5);
        double diff = 0;
        for (int i = 5; i < Ids.Length; i++)
        {
            decoder.Step([sequence], [(int)Ids[i]]);
            diff = Math.Max(diff, decoder.Logits(0).ToArray().Zip(reference[i - 4]).Max(x => Math.Abs(x.First - x.Second)));
        }
        Assert.True(diff < 1e-3, $"bf16 CPU decode differs from the widened fp32 model by {diff}");
    }

    /// <summary>An fp32 model holding exactly a bf16 model's values: the reference for decoding bf16 weights in fp32.</summary>
    static LlamaForCausalLM Widened(LlamaForCausalLM bf16) => TinyModels.Fp32Twin(bf16);

    [Theory]
    [InlineData(ScalarType.Float32, 3)]
    [InlineData(ScalarType.Float32, 5)]
    [InlineData(ScalarType.BFloat16, 3)]
    [InlineData(ScalarType.BFloat16, 4)]
    public void SequencesOfDifferentLengthsStepTogetherAsEachAlone(ScalarType dtype, int count)
    {
        using var lm = TinyModels.RandomLlama(Config, dtype: dtype);
        using var reference = dtype == ScalarType.Float32 ? null : Widened(lm);
        var exact = reference ?? lm;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var decoder = new CpuDecoder(lm);
        long[][] prompts = [[1, 5, 9], [1, 40, 41, 42, 43, 44, 45, 46], [7], [3, 3, 3, 3], [100, 99]];
        prompts = prompts[..count];
        var sequences = prompts.Select(p =>
        {
            using var cache = exact.NewCache(1, p.Length);
            exact.Forward(exact.Embed(tensor(p).unsqueeze(0)), arange(p.Length, ScalarType.Int64).unsqueeze(0), null, cache);
            var s = decoder.NewSequence(16);
            decoder.Adopt(s, cache, 0, p.Length);
            return s;
        }).ToList();
        int[] feed = [11, 22, 33, 44, 55];
        decoder.Step(sequences, feed[..count]);
        var together = Enumerable.Range(0, count).Select(r => decoder.Logits(r).ToArray()).ToList();
        for (int r = 0; r < count; r++)
        {
            var alone = FullPass(exact, [.. prompts[r], feed[r]], prompts[r].Length + 1)[0];
            double diff = alone.Zip(together[r]).Max(x => Math.Abs(x.First - x.Second));
            Assert.True(diff < 1e-3, $"row {r} differs from its own pass by {diff}");
        }
    }

    [Fact]
    public void GenerationGivesTheSameTokensWithAndWithoutTheCpuDecoder()
    {
        using var lm = TinyModels.RandomLlama(Config);
        var generator = new TextGenerator(lm);
        var prompts = new[] { new GenerationPrompt([1, 5, 9]), new GenerationPrompt([1, 40, 41, 42, 43, 44]) };
        var options = new GenerationOptions { MaxNewTokens = 12, RepetitionPenalty = 1.2, StopTokenIds = [2] };
        var sampled = options with { DoSample = true, Seed = 3, TopK = 20, TopP = 0.9, Temperature = 0.8 };
        bool before = TextGenerator.UseCpuDecoder;
        try
        {
            TextGenerator.UseCpuDecoder = false;
            var (greedyTorch, sampledTorch) = (generator.Generate(prompts, options), generator.Generate(prompts, sampled));
            TextGenerator.UseCpuDecoder = true;
            var (greedyCpu, sampledCpu) = (generator.Generate(prompts, options), generator.Generate(prompts, sampled));
            for (int r = 0; r < prompts.Length; r++)
            {
                Assert.Equal(greedyTorch.Tokens[r], greedyCpu.Tokens[r]);
                Assert.Equal(sampledTorch.Tokens[r], sampledCpu.Tokens[r]);
            }
        }
        finally
        {
            TextGenerator.UseCpuDecoder = before;
        }
    }

    [Fact]
    public void ModelsItCannotReadAreNamedWithTheReason()
    {
        using var half = TinyModels.RandomLlama(Config, dtype: ScalarType.Float16);
        Assert.Contains("Float16", CpuDecoder.Unsupported(half));
        var e = Assert.Throws<NotSupportedException>(() => new CpuDecoder(half));
        Assert.Contains("cannot run this model", e.Message);
        using var lm = TinyModels.RandomLlama(Config);
        var decoder = new CpuDecoder(lm);
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Step([decoder.NewSequence(4)], [Config.VocabSize]));
    }
}
