using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Llm;

/// <summary>
/// Parity with an outside reference: onnxruntime-genai's tiny random Llama (fp16 ONNX). Its weights are
/// loaded into the TorchSharp Llama, which must reproduce the expected greedy sequences exactly and the
/// logits ONNX Runtime computes on the same inputs.
/// </summary>
public sealed class TinyLlamaOnnxParityTests : IClassFixture<TinyLlamaOnnxParityTests.Model>
{
    public sealed class Model : IDisposable
    {
        public string OnnxPath { get; } = SharedData.Path("tiny-random-llama-onnx", "model.onnx");
        public LlamaForCausalLM Lm { get; }
        public JsonElement Expected { get; }

        public Model()
        {
            var stateDict = OnnxLlamaImporter.ReadStateDict(OnnxPath);
            var config = OnnxLlamaImporter.InferConfig(OnnxPath, stateDict);
            Lm = LlamaForCausalLM.Create(config, ScalarType.Float32);
            StateDictLoader.Load(Lm, stateDict).EnsureComplete("tiny random Llama from ONNX");
            foreach (var t in stateDict.Values) t.Dispose();
            Expected = JsonDocument.Parse(File.ReadAllText(SharedData.Path("tiny-random-llama-onnx", "expected_outputs.json"))).RootElement;
        }

        public void Dispose() => Lm.Dispose();
    }

    readonly Model _model;
    readonly ITestOutputHelper _output;

    public TinyLlamaOnnxParityTests(Model model, ITestOutputHelper output)
    {
        _model = model;
        _output = output;
    }

    static int[][] Rows(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();

    [Fact]
    public void GreedySequencesMatchOnnxRuntimeGenAIExpectations()
    {
        var greedy = _model.Expected.GetProperty("greedy");
        int maxLength = greedy.GetProperty("max_length").GetInt32();
        var inputs = Rows(greedy.GetProperty("input_ids"));
        var expected = Rows(greedy.GetProperty("expected_sequences"));
        var generator = new TextGenerator(_model.Lm);

        // One batch of both rows (same length, so no padding) and each row alone must agree.
        var batched = generator.Generate(inputs.Select(i => new GenerationPrompt(i)).ToList(), new GenerationOptions { MaxNewTokens = maxLength - inputs[0].Length });
        for (int row = 0; row < inputs.Length; row++)
        {
            var alone = generator.Generate(inputs[row], new GenerationOptions { MaxNewTokens = maxLength - inputs[row].Length });
            Assert.Equal(expected[row], inputs[row].Concat(alone.Tokens[0]).ToArray());
            Assert.Equal(expected[row], inputs[row].Concat(batched.Tokens[row]).ToArray());
        }
    }

    [Fact]
    public void BeamSearchSequencesMatchOnnxRuntimeGenAIExpectations()
    {
        var beam = _model.Expected.GetProperty("beam_search_fp32_model_only");
        int beams = beam.GetProperty("num_beams").GetInt32();
        int maxLength = beam.GetProperty("max_length").GetInt32();
        var inputs = Rows(beam.GetProperty("input_ids"));
        var expected = Rows(beam.GetProperty("expected_sequences"));
        var generator = new TextGenerator(_model.Lm);
        var result = generator.Generate(inputs.Select(i => new GenerationPrompt(i)).ToList(),
            new GenerationOptions { NumBeams = beams, MaxNewTokens = maxLength - inputs[0].Length, StopTokenIds = [1] });
        int matching = 0;
        for (int row = 0; row < inputs.Length; row++)
        {
            var got = inputs[row].Concat(result.Tokens[row]).ToArray();
            _output.WriteLine($"row {row}: expected {string.Join(",", expected[row])}; got {string.Join(",", got)}");
            if (got.SequenceEqual(expected[row])) matching++;
        }
        Assert.Equal(inputs.Length, matching);
    }

    [Fact]
    public void LogitsMatchOnnxRuntimeOnTheSameInputs()
    {
        long[] ids = [0, 0, 195, 731, 29592, 4877, 18112];
        using var session = new InferenceSession(_model.OnnxPath);
        var feeds = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, ids.Length])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Length).ToArray(), [1, ids.Length])),
            NamedOnnxValue.CreateFromTensor("position_ids", new DenseTensor<long>(Enumerable.Range(0, ids.Length).Select(i => (long)i).ToArray(), [1, ids.Length])),
        };
        for (int layer = 0; layer < 2; layer++)
            foreach (var kind in new[] { "key", "value" })
                feeds.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{layer}.{kind}", new DenseTensor<Float16>([1, 1, 0, 16])));
        using var results = session.Run(feeds);
        var reference = results.First(r => r.Name == "logits").AsTensor<Float16>().ToArray().Select(h => (float)h).ToArray();

        using var scope = NewDisposeScope();
        var ours = _model.Lm.Forward(tensor(ids).unsqueeze(0)).flatten().data<float>().ToArray();
        Assert.Equal(reference.Length, ours.Length);
        double maxDiff = ours.Zip(reference, (a, b) => Math.Abs(a - b)).Max();
        double maxRef = reference.Max(Math.Abs);
        _output.WriteLine($"max |logit diff| = {maxDiff:E3} (max |logit| {maxRef:F3})");
        // ONNX Runtime computes in fp16; fp16 has ~3 decimal digits, so allow a few ulps of the logit scale.
        Assert.True(maxDiff < 2e-3 * Math.Max(1, maxRef), $"max |logit diff| {maxDiff}");
        // The argmax at every position agrees.
        var ourArgmax = ours.Chunk(32000).Select(r => Array.IndexOf(r, r.Max())).ToArray();
        var refArgmax = reference.Chunk(32000).Select(r => Array.IndexOf(r, r.Max())).ToArray();
        Assert.Equal(refArgmax, ourArgmax);
    }

    [Fact]
    public void RotaryTablesMatchTheExportedCosSinCaches()
    {
        var inits = OnnxInitializerReader.ReadInitializers(_model.OnnxPath).ToDictionary(i => i.Name);
        using var scope = NewDisposeScope();
        var cosCache = OnnxInitializerReader.ToTensor(inits["cos_cache"], _model.OnnxPath).to_type(ScalarType.Float32);
        var rope = new LlamaRotaryEmbedding(_model.Lm.Config);
        var positions = arange(2048, ScalarType.Int64).unsqueeze(0);
        var (cos, _) = rope.Forward(positions, ScalarType.Float32);
        var half = cos.squeeze(0).narrow(1, 0, 8);
        double diff = (half - cosCache).abs().max().item<float>();
        Assert.True(diff < 1e-3, $"cos table differs by {diff}");
    }
}
