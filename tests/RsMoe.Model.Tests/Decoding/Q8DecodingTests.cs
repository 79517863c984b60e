using RsMoe.Model.Checkpoints.Gguf;
using RsMoe.Model.Configs;
using RsMoe.Model.Decoding;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Decoding;

/// <summary>
/// 8-bit decode weights: the blocks are GGUF's Q8_0 byte for byte, and decoding with them computes exactly what the fp32
/// model holding the dequantised values computes (so the only change is the quantisation itself).
/// </summary>
public sealed class Q8DecodingTests
{
    /// <summary>Hidden 96 (three blocks) for quantised projections and head; intermediate 150 leaves down_proj unquantised; 131 head rows test the 4-row tail.</summary>
    static LlamaConfig Config => TinyModels.GqaConfig with
    {
        VocabSize = 131, HiddenSize = 96, IntermediateSize = 150, NumHiddenLayers = 2, NumAttentionHeads = 6, NumKeyValueHeads = 2,
        HeadDim = 16, AttentionBias = true, TieWordEmbeddings = false,
    };

    [Fact]
    public void BlocksAreThoseOfAQ8GgufFile()
    {
        using var w = randn(7, 64) * 0.3;
        using var q = Q8Matrix.Quantize(w);
        var expected = GgmlEncoding.Encode(GgmlType.Q8_0, w.data<float>().ToArray());
        Assert.Equal(expected, q.Blocks.ToArray());
        Assert.Equal(7 * 2 * 34, q.Bytes);
        using var back = q.Dequantize();
        // Each value within half a step of its block's scale (max |w| / 127).
        double worst = (back - w).abs().max().item<float>();
        Assert.True(worst <= w.abs().max().item<float>() / 127 / 2 * 1.01, $"dequantised values are {worst} away");
        using var again = Q8Matrix.FromBlocks(q.Blocks, 7, 64);
        Assert.Equal(expected, again.Blocks.ToArray());
    }

    [Fact]
    public void MatricesWithoutWholeBlocksAreRefused()
    {
        using var w = randn(4, 40);
        Assert.False(Q8Matrix.CanQuantize(w));
        Assert.Contains("whole blocks of 32", Assert.Throws<ArgumentException>(() => Q8Matrix.Quantize(w)).Message);
        Assert.Throws<ArgumentException>(() => DecodeWeightFormats.Parse("q4"));
        Assert.Equal(DecodeWeightFormat.Q8_0, DecodeWeightFormats.Parse("Q8_0"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public unsafe void KernelComputesTheBlockSumsOfQuantisedInputAndWeights(int inputRows)
    {
        // 37 output rows: the 4-row blocks and their tail; 3 input rows: the batched path beside the one-row stream.
        const int rows = 37, columns = 160;
        using var w = randn(rows, columns) * 0.3;
        using var q8 = Q8Matrix.Quantize(w);
        var x = (randn(inputRows, columns) * 2).data<float>().ToArray();
        var packed = new float[inputRows * columns];
        var y = new float[inputRows * rows];
        var blocks = q8.Blocks.ToArray();
        fixed (float* xp = x, pp = packed, yp = y)
        {
            for (int r = 0; r < inputRows; r++) DecodeKernels.QuantizeActivations(xp + r * columns, (byte*)(pp + r * columns), columns);
            DecodeKernels.MatMul(WeightView.Of(q8), xp, pp, inputRows, yp, rows, 0, rows);
            for (int r = 0; r < inputRows; r++)
            {
                byte* xq = (byte*)(pp + r * columns);
                for (int o = 0; o < rows; o++)
                {
                    // The reference: per block, the integer dot product of the int8 input and weights, times both scales.
                    double expected = 0;
                    for (int b = 0; b < columns / 32; b++)
                    {
                        int offset = (o * columns / 32 + b) * 34, dot = 0;
                        for (int i = 0; i < 32; i++) dot += (sbyte)blocks[offset + 2 + i] * ((sbyte*)xq)[b * 32 + i];
                        double dw = (double)BitConverter.ToHalf(blocks, offset), dx = ((float*)(xq + 2 * columns))[b];
                        expected += dot * dw * dx;
                    }
                    Assert.True(Math.Abs(y[r * rows + o] - expected) < 1e-4 * Math.Max(1, Math.Abs(expected)), $"row {r}, output {o}: {y[r * rows + o]} against {expected}");
                }
                // The input's int8 blocks stand for it within half a step of each block's scale.
                for (int i = 0; i < columns; i++)
                {
                    float scale = ((float*)(xq + 2 * columns))[i / 32];
                    Assert.True(Math.Abs(((sbyte*)xq)[i] * scale - x[r * columns + i]) <= scale / 2 * 1.001 + 1e-7);
                }
            }
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1)]
    [InlineData(ScalarType.Float32, 2)]
    [InlineData(ScalarType.BFloat16, 2)]
    public void Q8StepsStayCloseToTheDequantisedModelAndBatchAsAlone(ScalarType dtype, int threads)
    {
        using var lm = TinyModels.RandomLlama(Config, dtype: dtype);
        lm.UseDecodeWeights(DecodeWeightFormat.Q8_0);
        Assert.Equal(DecodeWeightFormat.Q8_0, lm.DecodeWeights);
        // Every projection but down_proj (150 inputs) and the head are 8-bit.
        var quantized = LoraInjector.Layers(lm).Where(l => l.Layer.DecodeWeight is not null).Select(l => l.Path.Split('.')[^1]).Distinct().Order().ToArray();
        Assert.Equal(["gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], quantized);
        Assert.NotNull(lm.HeadDecodeWeight);
        using var twin = DequantisedTwin(lm);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[][] prompts = [[1, 5, 9], [1, 40, 41, 42, 43, 44, 45], [7]];
        int[][] feeds = [[11, 22, 33], [60, 61, 62], [100, 3, 4]];
        var together = Decode(lm, twin, prompts, feeds, threads);
        double worst = 0, batchWorst = 0;
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = Decode(lm, twin, [prompts[r]], [feeds[r]], threads)[0];
            for (int step = 0; step < 3; step++)
            {
                long[] ids = [.. prompts[r], .. feeds[r][..(step + 1)]];
                var reference = twin.Forward(tensor(ids).unsqueeze(0))[0, -1].to_type(ScalarType.Float32).data<float>().ToArray();
                // Relative to the logits' spread: the input is rounded to 8 bits per block as well (as in llama.cpp).
                double spread = reference.Max() - reference.Min();
                worst = Math.Max(worst, reference.Zip(together[r][step]).Max(x => Math.Abs(x.First - x.Second)) / spread);
                batchWorst = Math.Max(batchWorst, alone[step].Zip(together[r][step]).Max(x => Math.Abs(x.First - x.Second)));
            }
        }
        // Measured 3.2 % on these random weights (N(0, 0.2) everywhere, far rougher than a trained model's); the kernel's own
        // arithmetic is checked exactly above, so this bounds what rounding the input adds up to over the layers.
        Assert.True(worst < 0.05, $"Q8_0 decode differs from the dequantised fp32 model by {worst:P2} of the logits' spread");
        Assert.True(batchWorst < 1e-3, $"a sequence stepped in a batch differs from itself alone by {batchWorst}");
    }

    /// <summary>Prefills each prompt on <paramref name="twin"/>, then steps them together on <paramref name="lm"/>'s decoder: logits [row][step].</summary>
    static List<List<float[]>> Decode(LlamaForCausalLM lm, LlamaForCausalLM twin, long[][] prompts, int[][] feeds, int threads)
    {
        var decoder = new CpuDecoder(lm, threads);
        var sequences = prompts.Select(p =>
        {
            using var scope = NewDisposeScope();
            using var cache = twin.NewCache(1, p.Length);
            twin.Forward(twin.Embed(tensor(p).unsqueeze(0)), arange(p.Length, ScalarType.Int64).unsqueeze(0), null, cache);
            var s = decoder.NewSequence(4);
            decoder.Adopt(s, cache, 0, p.Length);
            return s;
        }).ToList();
        var logits = prompts.Select(_ => new List<float[]>()).ToList();
        for (int step = 0; step < feeds[0].Length; step++)
        {
            decoder.Step(sequences, feeds.Select(f => f[step]).ToArray());
            for (int r = 0; r < prompts.Length; r++) logits[r].Add(decoder.Logits(r).ToArray());
        }
        return logits;
    }

    [Fact]
    public void MergingAnAdapterQuantisesAgainAndFullWeightsDropTheCopies()
    {
        using var lm = TinyModels.RandomLlama(Config);
        LoraInjector.Attach(lm, new LoraSettings { R = 4, LoraAlpha = 8 });
        var (_, q) = LoraInjector.Layers(lm).First(l => l.Path.EndsWith("q_proj"));
        using (no_grad()) q.LoraB!.weight!.normal_(0, 0.5);
        lm.UseDecodeWeights(DecodeWeightFormat.Q8_0);
        var before = q.DecodeWeight!.Blocks.ToArray();
        q.Merge();
        using var expected = Q8Matrix.Quantize(q.Weight);
        Assert.NotEqual(before, q.DecodeWeight!.Blocks.ToArray());
        Assert.Equal(expected.Blocks.ToArray(), q.DecodeWeight.Blocks.ToArray());
        Assert.True(lm.DecodeWeightBytes > 0);

        lm.UseDecodeWeights(DecodeWeightFormat.Full);
        Assert.Null(q.DecodeWeight);
        Assert.Null(lm.HeadDecodeWeight);
        Assert.Equal(0, lm.DecodeWeightBytes);
    }

    [Fact]
    public void LikelihoodThroughTheDecoderIsLibtorchsCrossEntropy()
    {
        using var lm = TinyModels.RandomLlama(Config);
        int[][] sentences = [[1, 5, 9, 33, 12], [1, 70, 4], [1, 18]];
        var score = DecoderLikelihood.Measure(lm, sentences, threads: 1);
        double expected = 0;
        using (no_grad())
            foreach (var ids in sentences)
            {
                using var scope = NewDisposeScope();
                var logits = lm.Forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0];
                var targets = tensor(ids[1..].Select(i => (long)i).ToArray());
                expected += nn.functional.cross_entropy(logits.narrow(0, 0, ids.Length - 1), targets, reduction: nn.Reduction.Sum).item<float>();
            }
        Assert.Equal(7, score.Tokens);
        Assert.Equal(3, score.Sequences);
        Assert.True(Math.Abs(score.Nll - expected) < 1e-3 * Math.Max(1, expected), $"{score.Nll} against libtorch's {expected}");

        // 8-bit weights change the likelihood a little, not wholesale.
        lm.UseDecodeWeights(DecodeWeightFormat.Q8_0);
        var q8 = DecoderLikelihood.Measure(lm, sentences, threads: 1);
        Assert.NotEqual(score.Nll, q8.Nll);
        Assert.True(Math.Abs(q8.NllPerToken - score.NllPerToken) < 0.1 * score.NllPerToken, $"{q8.NllPerToken} against {score.NllPerToken}");
    }

    /// <summary>An fp32 model whose quantised matrices hold the dequantised Q8_0 values and whose other weights are the model's own.</summary>
    static LlamaForCausalLM DequantisedTwin(LlamaForCausalLM lm)
    {
        var twin = TinyModels.Fp32Twin(lm);
        using var noGrad = no_grad();
        var twinLayers = LoraInjector.Layers(twin).ToDictionary(l => l.Path, l => l.Layer);
        foreach (var (path, layer) in LoraInjector.Layers(lm))
            if (layer.DecodeWeight is { } q8)
                using (var values = q8.Dequantize()) twinLayers[path].Weight.copy_(values);
        using (var head = lm.HeadDecodeWeight!.Dequantize()) twin.state_dict()["lm_head.weight"].copy_(head);
        return twin;
    }
}
