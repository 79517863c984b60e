using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Lora;

/// <summary>One base plus a bank of adapters, one per row, against one merged copy per adapter.</summary>
public sealed class LoraBankTests : IDisposable
{
    readonly string _root = TinyModels.TempDirectory();
    readonly List<(string Name, string Directory)> _adapters = [];
    readonly List<LlamaForCausalLM> _merged = [];

    public LoraBankTests()
    {
        // Different ranks and targets, as independently trained experts may have.
        var settings = new[]
        {
            new LoraSettings { R = 4, LoraAlpha = 8 },
            new LoraSettings { R = 2, LoraAlpha = 8, TargetModules = ["q_proj", "v_proj"] },
            new LoraSettings { R = 4, LoraAlpha = 4, TargetModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] },
        };
        for (int i = 0; i < settings.Length; i++)
        {
            var lm = TinyModels.RandomLlama();
            LoraInjector.Attach(lm, settings[i]);
            using (no_grad())
                foreach (var (_, layer) in LoraInjector.Layers(lm))
                    layer.LoraB?.weight!.normal_(0, 0.2);
            string directory = Path.Combine(_root, $"expert{i}");
            PeftAdapter.Save(lm, directory);
            LoraInjector.Merge(lm);
            lm.eval();
            _merged.Add(lm);
            _adapters.Add(($"expert{i}", directory));
        }
    }

    public void Dispose()
    {
        foreach (var lm in _merged) lm.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void EachRowOfOneBatchedPassGetsItsOwnAdaptersLogits()
    {
        using var baseModel = TinyModels.RandomLlama();
        using var bank = LoraBank.Load(baseModel, _adapters);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 1, 5, 9, 13, 40 }).unsqueeze(0);
        Tensor batched;
        using (bank.Select([2, 0, 1], CPU)) batched = baseModel.Forward(ids.expand(3, -1));
        int[] order = [2, 0, 1];
        for (int row = 0; row < 3; row++)
        {
            var expected = _merged[order[row]].Forward(ids)[0];
            double diff = (batched[row] - expected).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"row {row} (adapter {order[row]}) differs from its merged model by {diff}");
        }
        // Outside a selection the base model is itself.
        Assert.True(baseModel.Forward(ids).allclose(TinyModels.RandomLlama().Forward(ids), 1e-5, 1e-5));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ABatchedGenerationWritesWhatEachMergedExpertWritesAlone(bool cpuDecoder)
    {
        using var baseModel = TinyModels.RandomLlama();
        using var bank = LoraBank.Load(baseModel, _adapters);
        var options = new GenerationOptions { MaxNewTokens = 10, RepetitionPenalty = 1.1 };
        int[][] prompts = [[1, 5, 9], [1, 40, 41, 42, 43], [7, 8]];
        bool before = TextGenerator.UseCpuDecoder;
        try
        {
            TextGenerator.UseCpuDecoder = cpuDecoder;
            var batched = new TextGenerator(baseModel, bank).Generate(prompts.Select((p, i) => new GenerationPrompt(p, Adapter: i)).ToList(), options);
            for (int i = 0; i < prompts.Length; i++)
                Assert.Equal(new TextGenerator(_merged[i]).Generate(prompts[i], options).Tokens[0], batched.Tokens[i]);
        }
        finally
        {
            TextGenerator.UseCpuDecoder = before;
        }
    }

    [Fact]
    public void BeamSearchWithAnAdapterFindsWhatItsMergedExpertFinds()
    {
        using var baseModel = TinyModels.RandomLlama();
        using var bank = LoraBank.Load(baseModel, _adapters);
        var options = new GenerationOptions { MaxNewTokens = 8, NumBeams = 3 };
        int[][] prompts = [[1, 5, 9], [1, 40, 41, 42, 43], [7, 8]];
        var batched = new TextGenerator(baseModel, bank).Generate(prompts.Select((p, i) => new GenerationPrompt(p, Adapter: i)).ToList(), options);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = new TextGenerator(_merged[i]).Generate(prompts[i], options);
            Assert.Equal(alone.Tokens[0], batched.Tokens[i]);
            Assert.Equal(alone.Scores![0], batched.Scores![i], 4);
        }
        // The adapters differ enough that the search's answer depends on which one it used.
        Assert.NotEqual(batched.Tokens[0], new TextGenerator(_merged[1]).Generate(prompts[0], options).Tokens[0]);
    }

    [Fact]
    public void AdaptersThatDoNotFitTheBaseAreRefusedByName()
    {
        using var baseModel = TinyModels.RandomLlama();
        var wider = TinyModels.GqaConfig with { HiddenSize = 48 };
        using var other = TinyModels.RandomLlama(wider);
        LoraInjector.Attach(other, new LoraSettings { R = 4 });
        string mismatched = Path.Combine(_root, "wider");
        PeftAdapter.Save(other, mismatched);
        var e = Assert.Throws<InvalidDataException>(() => LoraBank.Load(baseModel, [_adapters[0], ("wider", mismatched)]));
        Assert.Contains("wider", e.Message);
        Assert.Contains("expected", e.Message);
        // The failed load left the base model free of any bank.
        using var bank = LoraBank.Load(baseModel, [_adapters[0]]);
        Assert.Equal(["expert0"], bank.Names);
        Assert.Throws<ArgumentException>(() => new TextGenerator(baseModel, bank).Generate([new GenerationPrompt([1, 2], Adapter: 3)], new GenerationOptions()));
    }
}
