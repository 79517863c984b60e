using System.Text.Json;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Lora;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Lora;

public sealed class LoraTests
{
    static readonly LoraSettings Settings = new() { R = 4, LoraAlpha = 8, LoraDropout = 0.1 };

    static Tensor Logits(RsMoe.Model.Llm.LlamaForCausalLM lm) => lm.Forward(tensor(new long[] { 1, 5, 9, 13 }).unsqueeze(0));

    static void RandomiseAdapters(nn.Module model)
    {
        using var _ = no_grad();
        foreach (var (_, layer) in LoraInjector.Layers(model))
            if (layer.LoraB is not null) layer.LoraB.weight!.normal_(0, 0.1);
    }

    [Fact]
    public void AFreshAdapterChangesNothingATrainedOneDoes()
    {
        using var scope = NewDisposeScope();
        using var lm = TinyModels.RandomLlama();
        var before = Logits(lm);
        var adapted = LoraInjector.Attach(lm, Settings);
        Assert.Equal(2 * 5, adapted.Count);   // q, v, gate, up, down in two layers
        Assert.Contains("model.layers.1.self_attn.q_proj", adapted);
        Assert.DoesNotContain("model.layers.1.self_attn.k_proj", adapted);
        Assert.True(before.allclose(Logits(lm)));
        RandomiseAdapters(lm);
        Assert.False(before.allclose(Logits(lm), 1e-3, 1e-3));
    }

    [Fact]
    public void MergeMatchesTheUnmergedOutputAndUnmergeRestoresTheBase()
    {
        using var scope = NewDisposeScope();
        using var lm = TinyModels.RandomLlama();
        var baseWeight = lm.state_dict()["model.layers.0.self_attn.q_proj.weight"].clone();
        LoraInjector.Attach(lm, Settings);
        RandomiseAdapters(lm);
        var unmerged = Logits(lm);
        LoraInjector.Merge(lm);
        Assert.True(unmerged.allclose(Logits(lm), 1e-4, 1e-4));
        Assert.False(baseWeight.allclose(lm.state_dict()["model.layers.0.self_attn.q_proj.weight"]));
        LoraInjector.Unmerge(lm);
        Assert.True(baseWeight.allclose(lm.state_dict()["model.layers.0.self_attn.q_proj.weight"], 1e-6, 1e-6));
        Assert.True(unmerged.allclose(Logits(lm), 1e-4, 1e-4));
    }

    [Fact]
    public void OnlyAdaptersTrainWhenFrozen()
    {
        using var lm = TinyModels.RandomLlama();
        LoraInjector.Attach(lm, Settings);
        LoraInjector.FreezeAllButAdapters(lm);
        var trainable = lm.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(20, trainable.Count);
        Assert.All(trainable, name => Assert.Matches(@"\.lora_[AB]\.weight$", name));
    }

    [Fact]
    public void AdaptersSaveAndLoadAloneInPeftsLayout()
    {
        using var scope = NewDisposeScope();
        using var lm = TinyModels.RandomLlama();
        LoraInjector.Attach(lm, Settings);
        RandomiseAdapters(lm);
        var expected = Logits(lm);
        string dir = TinyModels.TempDirectory();
        PeftAdapter.Save(lm, dir, baseModel: "tiny-llama");

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")));
        Assert.Equal("LORA", config.RootElement.GetProperty("peft_type").GetString());
        Assert.Equal(4, config.RootElement.GetProperty("r").GetInt32());
        Assert.Equal(8, config.RootElement.GetProperty("lora_alpha").GetDouble());
        using (var file = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
        {
            Assert.Equal(20, file.Entries.Count);
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", file.Entries.Keys);
            Assert.Equal(new long[] { 4, 32 }, file.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
            Assert.Equal(new long[] { 64, 4 }, file.Entries["base_model.model.model.layers.1.mlp.up_proj.lora_B.weight"].Shape);
        }

        // A second copy of the same base with the adapter loaded alone reproduces the adapted model.
        using var other = TinyModels.RandomLlama();
        Assert.False(expected.allclose(Logits(other), 1e-3, 1e-3));
        var report = PeftAdapter.Load(other, dir);
        Assert.Equal(20, report.Loaded);
        other.eval();
        Assert.True(expected.allclose(Logits(other), 1e-5, 1e-5));
    }

    [Fact]
    public void AnAdapterMissingALayersWeightsIsRefused()
    {
        using var lm = TinyModels.RandomLlama();
        LoraInjector.Attach(lm, Settings);
        string dir = TinyModels.TempDirectory();
        PeftAdapter.Save(lm, dir);
        string file = Path.Combine(dir, "adapter_model.safetensors");
        Dictionary<string, Tensor> kept;
        using (var checkpoint = SafetensorsFile.Open(file))
            kept = checkpoint.Entries.Keys.Where(k => !k.Contains("layers.1.mlp.down_proj")).ToDictionary(k => k, k => checkpoint.Read(k));
        SafetensorsWriter.Save(file, kept);
        using var other = TinyModels.RandomLlama();
        var e = Assert.Throws<InvalidDataException>(() => PeftAdapter.Load(other, dir));
        Assert.Contains("model.layers.1.mlp.down_proj.lora_A.weight", e.Message);
    }

    [Fact]
    public void QFormerTargetsAreThePapersModules()
    {
        using var encoder = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, 32, TinyVlm.Router);
        var adapted = LoraInjector.Attach(encoder, Settings with { TargetModules = LoraSettings.QFormerTargets });
        Assert.Contains("qformer.encoder.layer.0.attention.attention.query", adapted);
        Assert.Contains("qformer.encoder.layer.0.attention.attention.value", adapted);
        Assert.DoesNotContain("qformer.encoder.layer.0.attention.attention.key", adapted);
        Assert.DoesNotContain("qformer.encoder.layer.0.attention.output.dense", adapted);
        foreach (var p in new[] { "query", "key", "value" }) Assert.Contains($"qformer.encoder.layer.2.crossattention.attention.{p}", adapted);
        Assert.Contains("qformer.encoder.layer.2.crossattention.output.dense", adapted);
        Assert.DoesNotContain(adapted, a => a.StartsWith("qformer.encoder.layer.1.crossattention"));
        foreach (var p in new[] { "intermediate.dense", "output.dense", "intermediate_query.dense", "output_query.dense" })
            Assert.Contains($"qformer.encoder.layer.3.{p}", adapted);
        // 4 layers × (2 self-attention + 4 FFN) + 2 cross-attention layers × 4.
        Assert.Equal(4 * 6 + 2 * 4, adapted.Count);
    }

    [Fact]
    public void PeftTargetMatchingFollowsPeft()
    {
        Assert.True(LoraInjector.Matches("model.layers.0.self_attn.q_proj", ["q_proj"]));
        Assert.False(LoraInjector.Matches("model.layers.0.self_attn.qq_proj", ["q_proj"]));
        Assert.True(LoraInjector.Matches("a.attention.attention.query", [@".*\.attention\.attention\.(query|value)$"]));
        Assert.False(LoraInjector.Matches("a.crossattention.attention.key", [@".*\.attention\.attention\.(query|value)$"]));
        Assert.Throws<ArgumentException>(() => LoraInjector.Attach(new RsMoe.Model.Lora.LoraLinear(2, 2), Settings with { TargetModules = ["nothing"] }));
    }
}
