using System.Text.Json;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.QFormer;
using RsMoe.Model.Tests.Support;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Checkpoints;

/// <summary>A tiny InstructBLIP directory in the Hugging Face layout (composite config, two shards) loads part by part.</summary>
public sealed class InstructBlipCheckpointTests
{
    static string WriteCheckpoint(EvaVisionModel vision, VlmEncoder encoder, RsMoe.Model.Llm.LlamaForCausalLM lm, bool includeRouter, string? extraKey = null)
    {
        string dir = TinyModels.TempDirectory();
        var config = new
        {
            architectures = new[] { "InstructBlipForConditionalGeneration" },
            model_type = "instructblip",
            num_query_tokens = TinyVlm.Queries,
            vision_config = JsonSerializer.SerializeToNode(TinyVlm.Vision, HfConfigJson.Options),
            qformer_config = JsonSerializer.SerializeToNode(TinyVlm.QFormer, HfConfigJson.Options),
            text_config = JsonSerializer.SerializeToNode(lm.Config, HfConfigJson.Options),
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        var visionAndQformer = vision.state_dict().ToDictionary(p => "vision_model." + p.Key, p => p.Value);
        foreach (var (k, v) in encoder.state_dict())
            if (includeRouter || !k.StartsWith("router.")) visionAndQformer[k] = v;
        if (extraKey is not null) visionAndQformer[extraKey] = zeros(1);
        var language = lm.state_dict().ToDictionary(p => "language_model." + p.Key, p => p.Value);
        SafetensorsWriter.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), visionAndQformer);
        SafetensorsWriter.Save(Path.Combine(dir, "model-00002-of-00002.safetensors"), language);
        var map = visionAndQformer.Keys.ToDictionary(k => k, _ => "model-00001-of-00002.safetensors");
        foreach (var k in language.Keys) map[k] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { weight_map = map }));
        return dir;
    }

    [Fact]
    public void EveryPartLoadsAndComputesAsTheOriginal()
    {
        using var scope = NewDisposeScope();
        using var vision = new EvaVisionModel(TinyVlm.Vision);
        using var encoder = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, 32, TinyVlm.Router);
        using var lm = TinyModels.RandomLlama();
        vision.eval();
        encoder.eval();
        string dir = WriteCheckpoint(vision, encoder, lm, includeRouter: false);

        using var loadedVision = InstructBlipCheckpoint.LoadVision(dir);
        var pixels = randn(1, 3, 28, 28);
        Assert.True(vision.call(pixels).allclose(loadedVision.call(pixels)));

        var (loadedEncoder, report) = InstructBlipCheckpoint.LoadVlmEncoder(dir, TinyVlm.Router);
        using (loadedEncoder)
        {
            Assert.Empty(report.Unexpected);
            Assert.DoesNotContain(report.Missing, k => !k.StartsWith("router."));
            var image = vision.call(pixels);
            using var a = encoder.Forward(image, null, null);
            using var b = loadedEncoder.Forward(image, null, null);
            Assert.True(a.VisualPrefix.allclose(b.VisualPrefix, 1e-5, 1e-5));
        }

        using var loadedLm = InstructBlipCheckpoint.LoadLanguageModel(dir);
        var ids = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        Assert.True(lm.Forward(ids).allclose(loadedLm.Forward(ids)));
    }

    [Fact]
    public void AnUnexpectedKeyInTheEncoderPartIsNamed()
    {
        using var vision = new EvaVisionModel(TinyVlm.Vision);
        using var encoder = new VlmEncoder(TinyVlm.QFormer, TinyVlm.Queries, 32, TinyVlm.Router);
        using var lm = TinyModels.RandomLlama();
        string dir = WriteCheckpoint(vision, encoder, lm, includeRouter: true, extraKey: "qformer.encoder.layer.0.stray.weight");
        var e = Assert.Throws<InvalidDataException>(() => InstructBlipCheckpoint.LoadVlmEncoder(dir, TinyVlm.Router));
        Assert.Contains("qformer.encoder.layer.0.stray.weight", e.Message);
    }
}
