using System.Text;
using System.Text.Json;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.Tests.Support;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests.Checkpoints;

public sealed class SafetensorsTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void TensorsRoundTripBitForBit(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(TinyModels.TempDirectory(), "t.safetensors");
        var a = randn(3, 5).to_type(dtype);
        var b = arange(7L);
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["layer.a"] = a, ["b"] = b }, new Dictionary<string, string> { ["format"] = "pt" });
        using var file = SafetensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(SafetensorsDType.FromScalarType(dtype), file.Entries["layer.a"].DType);
        var readA = file.Read("layer.a");
        Assert.Equal(dtype, readA.dtype);
        Assert.True(readA.eq(a).all().item<bool>());
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6 }, file.Read("b").data<long>().ToArray());
        Assert.Equal(ScalarType.Float32, file.Read("layer.a", ScalarType.Float32).dtype);
    }

    [Fact]
    public void HeaderFollowsTheFormat()
    {
        using var scope = NewDisposeScope();
        string path = Path.Combine(TinyModels.TempDirectory(), "t.safetensors");
        SafetensorsWriter.Save(path, new Dictionary<string, Tensor> { ["x"] = ones(2, 2) });
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength));
        var x = header.RootElement.GetProperty("x");
        Assert.Equal("F32", x.GetProperty("dtype").GetString());
        Assert.Equal(new long[] { 0, 16 }, x.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(8 + headerLength + 16, bytes.Length);
    }

    [Fact]
    public void CorruptFilesAreRefusedWithClearMessages()
    {
        string dir = TinyModels.TempDirectory();
        string tooShort = Path.Combine(dir, "short.safetensors");
        File.WriteAllBytes(tooShort, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(tooShort)).Message);

        string badOffsets = Path.Combine(dir, "bad.safetensors");
        var json = Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}");
        File.WriteAllBytes(badOffsets, [.. BitConverter.GetBytes((long)json.Length), .. json, .. new byte[8]]);
        Assert.Contains("outside the file", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(badOffsets)).Message);

        string hugeHeader = Path.Combine(dir, "huge.safetensors");
        File.WriteAllBytes(hugeHeader, [.. BitConverter.GetBytes(long.MaxValue), .. new byte[8]]);
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(hugeHeader)).Message);
    }

    [Fact]
    public void ShardedCheckpointLoadsLikeASingleFile()
    {
        using var lm = TinyModels.RandomLlama();
        string single = TinyModels.TempDirectory();
        lm.SavePretrained(single);

        // Split the same tensors over two shards with an index, as Hugging Face writes large models.
        string sharded = TinyModels.TempDirectory();
        File.Copy(Path.Combine(single, "config.json"), Path.Combine(sharded, "config.json"));
        var state = lm.state_dict().Where(p => !p.Key.Contains("lora_")).ToList();
        var first = state.Take(state.Count / 2).ToList();
        var second = state.Skip(state.Count / 2).ToList();
        SafetensorsWriter.Save(Path.Combine(sharded, "model-00001-of-00002.safetensors"), first);
        SafetensorsWriter.Save(Path.Combine(sharded, "model-00002-of-00002.safetensors"), second);
        var weightMap = first.ToDictionary(p => p.Key, _ => "model-00001-of-00002.safetensors");
        foreach (var p in second) weightMap[p.Key] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(sharded, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = weightMap }));

        using var fromSingle = LlamaForCausalLM.FromPretrained(single);
        using var fromShards = LlamaForCausalLM.FromPretrained(sharded);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 2, 3, 4 }).unsqueeze(0);
        Assert.True(lm.Forward(ids).allclose(fromSingle.Forward(ids)));
        Assert.True(lm.Forward(ids).allclose(fromShards.Forward(ids)));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void HalfPrecisionCheckpointsLoadIntoAnyDType(ScalarType stored)
    {
        using var lm = TinyModels.RandomLlama();
        string dir = TinyModels.TempDirectory();
        using (var half = TinyModels.RandomLlama(dtype: stored))
        {
            half.load_state_dict(lm.state_dict().ToDictionary(p => p.Key, p => p.Value.to_type(stored)));
            half.SavePretrained(dir);
        }
        using var asFloat = LlamaForCausalLM.FromPretrained(dir, ScalarType.Float32);
        using var asStored = LlamaForCausalLM.FromPretrained(dir, stored);
        Assert.Equal(stored, asStored.DType);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 2, 3, 4 }).unsqueeze(0);
        var reference = lm.Forward(ids);
        double diff = (reference - asFloat.Forward(ids)).abs().max().item<float>();
        double scale = reference.abs().max().item<float>();
        Assert.True(diff < 0.05 * scale, $"half-precision weights moved the logits by {diff} (scale {scale})");
    }

    [Fact]
    public void LoadReportsMissingAndUnexpectedKeysAndNamesShapeMismatches()
    {
        using var lm = TinyModels.RandomLlama();
        string dir = TinyModels.TempDirectory();
        lm.SavePretrained(dir);
        string file = Path.Combine(dir, "model.safetensors");

        // Drop one key and add a stranger.
        using (var checkpoint = SafetensorsFile.Open(file))
        {
            var tensors = checkpoint.Entries.Keys.Where(k => k != "model.norm.weight").ToDictionary(k => k, k => checkpoint.Read(k));
            tensors["model.extra.weight"] = zeros(3);
            SafetensorsWriter.Save(Path.Combine(dir, "edited.safetensors"), tensors);
        }
        File.Delete(file);
        File.Move(Path.Combine(dir, "edited.safetensors"), file);
        var e = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(dir));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Contains("model.extra.weight", e.Message);

        // A wrong shape names the key.
        string wrong = TinyModels.TempDirectory();
        lm.SavePretrained(wrong);
        var config = LlamaConfig.Load(wrong) with { IntermediateSize = 48 };
        File.WriteAllText(Path.Combine(wrong, "config.json"), HfConfigJson.Write(config));
        var shape = Assert.Throws<InvalidDataException>(() => LlamaForCausalLM.FromPretrained(wrong));
        Assert.Contains("model.layers.0.mlp", shape.Message);
        Assert.Contains("shape", shape.Message);
    }
}
