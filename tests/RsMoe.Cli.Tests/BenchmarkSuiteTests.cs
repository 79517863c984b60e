using System.Text.Json;
using RsMoe.Cli.Tests.Support;

namespace RsMoe.Cli.Tests;

/// <summary>The benchmark suite runs from end to end and writes what the report needs (figures are its business, not the tests').</summary>
public sealed class BenchmarkSuiteTests
{
    [Fact]
    public void The_quick_suite_measures_every_section_and_renders_the_report()
    {
        string dir = Directory.CreateTempSubdirectory("rsmoe-suite-").FullName;
        try
        {
            string json = Path.Combine(dir, "performance.json"), report = Path.Combine(dir, "performance.md");
            var (code, output, error) = RsmoeProcess.Run(TimeSpan.FromMinutes(8), "bench", "suite", "--quick", "--out", json, "--report", report);
            Assert.True(code == 0, output + error);

            using var results = JsonDocument.Parse(File.ReadAllText(json));
            var root = results.RootElement;
            Assert.True(root.GetProperty("Machine").GetProperty("ReadGBps2Threads").GetDouble() > 0);
            var lm = root.GetProperty("Lm").EnumerateArray().ToList();
            Assert.Contains(lm, r => r.GetProperty("Decoder").GetString() == "cpu");
            Assert.Contains(lm, r => r.GetProperty("Decoder").GetString() == "libtorch");
            // Our 8-bit decode weights beside llama.cpp's Q8_0, and fewer weight bytes a step than bf16.
            var q8 = lm.Single(r => r.GetProperty("DType").GetString() == "q8_0");
            var bf16 = lm.First(r => r.GetProperty("DType").GetString() == "bf16" && r.GetProperty("Decoder").GetString() == "cpu");
            Assert.Equal("cpu", q8.GetProperty("Decoder").GetString());
            Assert.True(q8.GetProperty("WeightBytesPerToken").GetInt64() < bf16.GetProperty("WeightBytesPerToken").GetInt64());
            // llama.cpp measured in the run itself, on every GGUF type, with the native build it loaded named.
            Assert.Equal(["F32", "F16", "BF16", "Q8_0"], lm.Where(r => r.GetProperty("Decoder").GetString() == "llama.cpp").Select(r => r.GetProperty("DType").GetString()));
            Assert.All(lm.Where(r => r.GetProperty("Decoder").GetString() == "llama.cpp"), r => Assert.Contains("LLamaSharp", r.GetProperty("Native").GetString()));
            Assert.Equal(["libtorch", "onnxruntime"], root.GetProperty("ImageEncoder").EnumerateArray().Select(r => r.GetProperty("Engine").GetString()));
            Assert.All(lm, r => Assert.True(r.GetProperty("DecodeTokensPerSecond").GetDouble() > 0));
            Assert.Equal(["sequential", "batched"], root.GetProperty("Experts").EnumerateArray().Select(r => r.GetProperty("Mode").GetString()));
            Assert.All(root.GetProperty("Experts").EnumerateArray(), r => Assert.True(r.GetProperty("PeakRssMiB").GetDouble() > 0));
            Assert.Contains(root.GetProperty("Serve").EnumerateArray(), r => r.GetProperty("Mode").GetString() == "batched" && r.GetProperty("MeanBatch").GetDouble() > 1);
            Assert.NotEmpty(root.GetProperty("ExpertService").EnumerateArray());
            Assert.Contains(root.GetProperty("Constellation").EnumerateArray(), r => r.GetProperty("ImageEncoderP50Ms").ValueKind == JsonValueKind.Number);
            Assert.Equal(2, root.GetProperty("Gateway").GetArrayLength());

            string markdown = File.ReadAllText(report);
            foreach (var heading in new[] { "## 1. Decode and prefill", "## 2. Three experts on one shared base", "## 3. One expert under concurrent requests",
                         "## 4. End to end", "## 5. The gateway's own overhead", "## 6. What the feature cache saves", "## 7. The image encoder against ONNX Runtime" })
                Assert.Contains(heading, markdown);
            Assert.DoesNotContain("NaN", markdown);
            Assert.DoesNotContain("quoted from the performance issue", markdown);
            Assert.Contains("--quick", markdown);
            Assert.Contains("| tiny | 2 | q8_0 |", markdown);
            // The shipped model averages orientations, so the report turns one timed pass into the service's cost per new photo.
            Assert.All(root.GetProperty("ImageEncoder").EnumerateArray(), r => Assert.Equal(8, r.GetProperty("Orientations").GetInt32()));
            Assert.Contains("the service makes 8 passes for a new photo", markdown);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
