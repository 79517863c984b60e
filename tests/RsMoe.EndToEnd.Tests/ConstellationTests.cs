using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Constellation;
using RsMoe.Contracts.V1;
using RsMoe.Data.Images;
using RsMoe.EndToEnd.Tests.Support;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using StackExchange.Redis;

namespace RsMoe.EndToEnd.Tests;

/// <summary>The constellation's processes on loopback, as users and operators meet them.</summary>
[Collection(ConstellationCollection.Name)]
public sealed class ConstellationTests(ConstellationFixture fixture)
{
    Captioner.CaptionerClient Captioner => new(fixture.Gateway);
    static ByteString Image(string path) => ByteString.CopyFrom(File.ReadAllBytes(path));

    /// <summary>
    /// RSICD photos from the middle of the folder by name: the load tool takes its "never sent before" images from the
    /// start, and counts on the gateway encoding each one, so the other tests here must not have cached them.
    /// </summary>
    static List<string> RsicdSlice(int skip, int count) =>
        Directory.GetFiles(SharedData.Path("rsicd", "images"), "*.jpg").Order(StringComparer.Ordinal).Skip(skip).Take(count).ToList();
    static string Rsscn7(string file) => SharedData.Path("rsscn7", "images", file);

    [Fact]
    public async Task A_caption_has_three_sections_by_three_experts_and_equals_the_model_run_in_process()
    {
        var response = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("harbor")) },
            deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(["theme", "objects", "relationships"], response.Sections.Select(s => s.Aspect));
        Assert.All(response.Sections, s => Assert.Equal("", s.Error));
        Assert.Equal(3, response.Sections.Select(s => s.Expert).Distinct().Count());
        Assert.All(response.Sections, s => Assert.StartsWith($"{s.Aspect}@{s.Aspect}-", s.Expert));
        Assert.Equal(1.0, response.Gate.Sum(), 6);
        foreach (var stage in new[] { "cache_lookup", "vlm_encoder", "expert_theme", "expert_objects", "expert_relationships", "experts", "total" })
            Assert.True(response.TimingsMs.ContainsKey(stage), stage);

        using var model = ModelFolder.Load(ConstellationFixture.ModelDirectory);
        using var backbone = ImageBackbone.For(model.Config);
        using var tokens = backbone.Encode(File.ReadAllBytes(ConstellationFixture.Sample("harbor")));
        var expected = model.Caption(tokens, "Describe this image in detail.");
        Assert.Equal(expected.Caption, response.Caption);
        Assert.Equal(expected.Sections.Select(s => s.Text), response.Sections.Select(s => s.Text));
    }

    [Fact]
    public async Task The_second_question_about_an_image_is_a_cache_hit_and_the_image_encoder_is_not_called()
    {
        var image = Image(Rsscn7("cIndustry/c011.jpg"));
        var first = await Captioner.AskAsync(new AskRequest { Image = image, Question = "Is this an industrial area?" }, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(CacheOutcome.Miss, first.Cache);
        Assert.True(first.TimingsMs.ContainsKey("image_encoder"));
        double encoded = await fixture.MetricAsync("image-encoder", "rsmoe_image_encoder_images_total");

        var second = await Captioner.AskAsync(new AskRequest { Image = image, Question = "How many buildings are there?" }, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(CacheOutcome.Hit, second.Cache);
        Assert.False(second.TimingsMs.ContainsKey("image_encoder"));
        Assert.Equal(encoded, await fixture.MetricAsync("image-encoder", "rsmoe_image_encoder_images_total"));
        Assert.False(string.IsNullOrWhiteSpace(second.Expert));

        // The features live in the real Redis, as compact bytes with a TTL.
        using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Constellation.RedisConnection!);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var keys = server.Keys(pattern: "rsmoe:v1:features:*").ToList();
        Assert.NotEmpty(keys);
        var ttl = await redis.GetDatabase().KeyTimeToLiveAsync(keys[0]);
        Assert.True(ttl > TimeSpan.Zero && ttl <= TimeSpan.FromHours(1), $"TTL {ttl}");
        var bytes = (byte[])(await redis.GetDatabase().StringGetAsync(keys[0]))!;
        Assert.InRange(bytes.Length, 49 * 512 * 4, 49 * 512 * 4 + 64);
    }

    [Fact]
    public async Task StreamCaption_sends_tokens_per_section_then_each_section_then_the_caption()
    {
        using var call = Captioner.StreamCaption(new CaptionRequest { Image = Image(ConstellationFixture.Sample("airport")) }, deadline: DateTime.UtcNow.AddMinutes(1));
        var events = new List<CaptionEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync()) events.Add(e);
        Assert.Equal(CaptionEvent.EventOneofCase.Features, events[0].EventCase);
        Assert.Equal(CaptionEvent.EventOneofCase.Done, events[^1].EventCase);
        var sections = events.Where(e => e.EventCase == CaptionEvent.EventOneofCase.SectionDone).Select(e => e.SectionDone).ToList();
        Assert.Equal(3, sections.Count);
        foreach (var section in sections)
        {
            var tokens = events.Where(e => e.EventCase == CaptionEvent.EventOneofCase.Token && e.Token.Aspect == section.Aspect).Select(e => e.Token.Text).ToList();
            Assert.True(tokens.Count > 3, section.Aspect);
            Assert.Equal(section.Text, string.Concat(tokens).Trim());
        }
    }

    [Fact]
    public async Task Rest_caption_and_ask_answer_json_and_multipart()
    {
        var png = File.ReadAllBytes(ConstellationFixture.Sample("forest"));
        var json = await fixture.Http.PostAsJsonAsync("/v1/caption", new { image = Convert.ToBase64String(png), instruction = "Describe this image in detail." });
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        var caption = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement;
        Assert.False(string.IsNullOrWhiteSpace(caption.GetProperty("caption").GetString()));
        Assert.Equal(["theme", "objects", "relationships"], caption.GetProperty("sections").EnumerateArray().Select(s => s.GetProperty("aspect").GetString()));
        Assert.Contains(caption.GetProperty("cache").GetString(), new[] { "hit", "miss" });
        Assert.True(caption.GetProperty("timings_ms").GetProperty("total").GetDouble() > 0);

        using var form = new MultipartFormDataContent { { new ByteArrayContent(png), "image", "forest.png" } };
        var multipart = await fixture.Http.PostAsync("/v1/caption", form);
        var fromForm = JsonDocument.Parse(await multipart.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("hit", fromForm.GetProperty("cache").GetString());
        Assert.Equal(caption.GetProperty("caption").GetString(), fromForm.GetProperty("caption").GetString());

        var ask = await fixture.Http.PostAsJsonAsync("/v1/ask", new { image = Convert.ToBase64String(png), question = "What is the theme of this picture?" });
        var answer = JsonDocument.Parse(await ask.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("hit", answer.GetProperty("cache").GetString());
        Assert.False(string.IsNullOrWhiteSpace(answer.GetProperty("answer").GetString()));
        Assert.Contains("@", answer.GetProperty("expert").GetString());
    }

    [Fact]
    public async Task Rest_streaming_sends_server_sent_events()
    {
        var png = File.ReadAllBytes(ConstellationFixture.Sample("residential"));
        var response = await fixture.Http.PostAsJsonAsync("/v1/caption/stream", new { image = Convert.ToBase64String(png) });
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var names = text.Split('\n').Where(l => l.StartsWith("event: ")).Select(l => l[7..]).ToList();
        Assert.Equal("features", names[0]);
        Assert.Equal("done", names[^1]);
        Assert.Equal(3, names.Count(n => n == "section"));
        Assert.Contains("token", names);
    }

    public static TheoryData<string, string, string, HttpStatusCode> BadRestRequests() => new()
    {
        { "not an image", "/v1/caption", """{"image":"aGVsbG8gd29ybGQ="}""", HttpStatusCode.BadRequest },
        { "invalid base64", "/v1/caption", """{"image":"***"}""", HttpStatusCode.BadRequest },
        { "no image", "/v1/caption", """{"instruction":"hi"}""", HttpStatusCode.BadRequest },
        { "unknown field", "/v1/caption", """{"image":"aGVsbG8=","colour":"red"}""", HttpStatusCode.BadRequest },
        { "not JSON", "/v1/ask", "{image:", HttpStatusCode.BadRequest },
        { "empty question", "/v1/ask", """{"image":"aGVsbG8=","question":" "}""", HttpStatusCode.BadRequest },
    };

    [Theory]
    [MemberData(nameof(BadRestRequests))]
    public async Task Bad_rest_requests_get_problem_details(string what, string path, string body, HttpStatusCode expected)
    {
        var response = await fixture.Http.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(expected == response.StatusCode, $"{what}: {response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), what);
    }

    [Fact]
    public async Task Oversized_and_wrongly_typed_bodies_are_refused()
    {
        // With Expect: 100-continue the gateway refuses on the declared length, before the body is sent (as browsers and curl do it).
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/caption") { Content = new ByteArrayContent(new byte[30 << 20]) { Headers = { ContentType = new("application/json") } } };
        request.Headers.ExpectContinue = true;
        var tooLarge = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        var text = await fixture.Http.PostAsync("/v1/caption", new StringContent("hello"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        var grpc = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.AskAsync(new AskRequest { Image = ByteString.CopyFromUtf8("not an image"), Question = "what?" }));
        Assert.Equal(StatusCode.InvalidArgument, grpc.StatusCode);
    }

    [Fact]
    public async Task Experts_are_listed_with_role_version_and_health()
    {
        var list = await Captioner.ListExpertsAsync(new ListExpertsRequest());
        Assert.Equal(["theme", "objects", "relationships"], list.Experts.Select(e => e.Role));
        Assert.All(list.Experts, e => Assert.Equal("SERVING", e.Health));
        var rest = JsonDocument.Parse(await fixture.Http.GetStringAsync("/v1/experts")).RootElement.GetProperty("experts");
        Assert.Equal(3, rest.GetArrayLength());
        Assert.All(rest.EnumerateArray(), e => Assert.Equal(1, e.GetProperty("healthy_replicas").GetInt32()));
    }

    [Fact]
    public async Task Reloading_one_expert_through_the_gateway_changes_only_that_expert()
    {
        // A real photo on which the theme adapter and the objects adapter write different sentences.
        var image = Image(Path.Combine(ConstellationFixture.ModelDirectory, "samples", "ucm-storage-tanks.jpg"));
        var before = await Captioner.CaptionAsync(new CaptionRequest { Image = image });

        // The operator's route: the gateway's YARP pass-through to one expert's cluster, picked by header.
        var objects = new Expert.ExpertClient(fixture.Gateway);
        var headers = new Metadata { { "x-rsmoe-expert", "objects" } };
        var swapped = await objects.ReloadAsync(new ReloadRequest { AdapterPath = Path.Combine(ConstellationFixture.ModelDirectory, "experts", "theme") }, headers);
        Assert.StartsWith("theme-", swapped.Version);
        Assert.Equal("objects", swapped.Role);
        try
        {
            var after = await Captioner.CaptionAsync(new CaptionRequest { Image = image });
            Assert.Equal($"objects@{swapped.Version}", after.Sections[1].Expert);
            Assert.NotEqual(before.Sections[1].Text, after.Sections[1].Text);
            Assert.Equal(before.Sections[0].Expert, after.Sections[0].Expert);
            Assert.Equal(before.Sections[2].Expert, after.Sections[2].Expert);
            Assert.Equal(before.Sections[2].Text, after.Sections[2].Text);
        }
        finally
        {
            var restored = await objects.ReloadAsync(new ReloadRequest(), headers);
            Assert.Equal(before.Sections[1].Expert, $"objects@{restored.Version}");
        }
    }

    [Fact]
    public async Task Swapping_a_checkpoint_under_load_loses_no_request()
    {
        var objects = new Expert.ExpertClient(fixture.Gateway);
        var headers = new Metadata { { "x-rsmoe-expert", "objects" } };
        using var stop = new CancellationTokenSource();
        int completed = 0;
        var failures = new List<string>();
        string[] samples = ["harbor", "forest", "airport", "residential"];
        var load = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var caption = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample(samples[(worker + i) % 4])) },
                        deadline: DateTime.UtcNow.AddSeconds(60));
                    foreach (var s in caption.Sections.Where(s => s.Error != "")) lock (failures) failures.Add(s.Error);
                    Interlocked.Increment(ref completed);
                }
                catch (RpcException e)
                {
                    lock (failures) failures.Add(e.Status.ToString());
                }
            }
        })).ToList();
        await Task.Delay(1000);
        await objects.ReloadAsync(new ReloadRequest { AdapterPath = Path.Combine(ConstellationFixture.ModelDirectory, "experts", "theme") }, headers);
        await Task.Delay(1000);
        await objects.ReloadAsync(new ReloadRequest(), headers);
        await Task.Delay(1000);
        stop.Cancel();
        await Task.WhenAll(load);
        // A failure here has been seen once, only under the whole suite's load; the services' own words say why.
        Assert.True(failures.Count == 0, $"{string.Join("; ", failures)}\n{fixture.Constellation.ProblemsLogged("gateway", "expert-")}");
        Assert.True(completed >= 6, $"{completed} captions");
    }

    [Fact]
    public async Task The_command_line_client_prints_sections_by_aspect()
    {
        var (code, stdout, stderr) = Run("caption", ConstellationFixture.Sample("farmland"), "--gateway", fixture.Constellation.GatewayGrpcUrl);
        Assert.True(code == 0, stderr);
        Assert.Contains("[theme] ", stdout);
        Assert.Contains("[objects] ", stdout);
        Assert.Contains("[relationships] ", stdout);
        var (askCode, answer, _) = Run("ask", ConstellationFixture.Sample("farmland"), "Is there farmland?", "--gateway", fixture.Constellation.GatewayGrpcUrl, "--json");
        Assert.Equal(0, askCode);
        Assert.Equal("hit", JsonDocument.Parse(answer).RootElement.GetProperty("cache").GetString());
        // A relative adapter path is resolved by the caller (here, against the test's working folder), not by the expert.
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(ConstellationFixture.ModelDirectory, "experts", "theme"));
        Assert.False(Path.IsPathRooted(relative));
        var (reloadCode, reloaded, reloadError) = Run("reload", "theme", relative, "--gateway", fixture.Constellation.GatewayGrpcUrl);
        Assert.True(reloadCode == 0, reloadError);
        Assert.Matches("theme at .* now serves theme-", reloaded);
        Assert.Contains("reloaded 1 of 1 replicas of theme", reloaded);
        var (badCode, badOut, badError) = Run("reload", "theme", "/nowhere", "--gateway", fixture.Constellation.GatewayGrpcUrl);
        Assert.Equal(2, badCode);
        Assert.Contains("FailedPrecondition", badOut);
        Assert.Contains("1 of 1 replicas of theme did not reload", badError);
        var (unknownCode, _, unknownError) = Run("reload", "colour", "--gateway", fixture.Constellation.GatewayGrpcUrl);
        Assert.Equal(2, unknownCode);
        Assert.Contains("no expert role 'colour'", unknownError);
    }

    [Fact]
    public async Task An_archive_and_a_scene_are_captioned_through_the_gateway_several_at_a_time()
    {
        string dir = Directory.CreateTempSubdirectory("rsmoe-e2e-archive-").FullName;
        var photos = RsicdSlice(5000, 5);
        string list = Path.Combine(dir, "list.txt"), results = Path.Combine(dir, "results.jsonl"), broken = Path.Combine(dir, "broken.jpg");
        File.WriteAllText(broken, "not a JPEG");
        File.WriteAllLines(list, [.. photos, broken]);

        var (code, stdout, stderr) = Run("caption-batch", list, "--out", results, "--gateway", fixture.Constellation.GatewayGrpcUrl, "--concurrency", "3", "--limit", "3");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("3 at a time", stdout);
        (code, stdout, stderr) = Run("caption-batch", list, "--out", results, "--gateway", fixture.Constellation.GatewayGrpcUrl, "--concurrency", "3");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("3 already in", stdout);
        Assert.Contains("captioned 2, failed 1", stdout);
        Assert.Contains("InvalidArgument", stderr);   // the broken file, named by the gateway's own refusal

        var lines = File.ReadAllLines(results).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal(6, lines.Count);
        foreach (var line in lines.Where(l => !l.TryGetProperty("error", out _)))
        {
            string key = line.GetProperty("image").GetString()!;
            var own = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(key) });
            Assert.Equal(own.Caption, line.GetProperty("caption").GetString());   // the same caption one at a time as three at once
        }

        // A georeferenced scene of four UCM photos through the same gateway, two tiles at a time.
        string scene = Path.Combine(dir, "scene.tif"), geojson = Path.Combine(dir, "scene.geojson");
        RsMoe.Scenes.SceneMosaic.Write(scene, RsMoe.Scenes.SceneMosaic.UcmTestPhotos(SharedData.Path(), 4).Select(p => p.Path).ToList(), 2, 256,
            new RsMoe.Scenes.GeoTiffWriter.Georeferencing(500000, 4000000, 0.3, 32611));
        (code, stdout, stderr) = Run("scene", scene, "--out", geojson, "--gateway", fixture.Constellation.GatewayGrpcUrl, "--concurrency", "2");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("captioned 4 of 4 tiles", stdout);
        using var collection = JsonDocument.Parse(File.ReadAllText(geojson));
        Assert.Equal(4, collection.RootElement.GetProperty("features").GetArrayLength());
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Many_images_over_one_call_each_come_back_under_its_key_and_a_bad_one_with_its_status()
    {
        var photos = RsicdSlice(5010, 4);
        using var call = Captioner.CaptionImages(deadline: DateTime.UtcNow.AddMinutes(2));
        var reading = Task.Run(async () =>
        {
            var received = new List<CaptionedImage>();
            await foreach (var result in call.ResponseStream.ReadAllAsync()) received.Add(result);
            return received;
        });
        foreach (var photo in photos) await call.RequestStream.WriteAsync(new ImageToCaption { Key = photo, Image = Image(photo) });
        await call.RequestStream.WriteAsync(new ImageToCaption { Key = "broken", Image = ByteString.CopyFromUtf8("not an image") });
        await call.RequestStream.CompleteAsync();
        var results = await reading;

        Assert.Equal([.. photos.Append("broken").Order(StringComparer.Ordinal)], results.Select(r => r.Key).Order(StringComparer.Ordinal));
        var broken = Assert.Single(results, r => r.Key == "broken");
        Assert.Equal("InvalidArgument", broken.Status);
        Assert.Null(broken.Caption);
        foreach (var result in results.Where(r => r.Key != "broken"))
        {
            Assert.Equal("", result.Status);
            var own = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(result.Key) });
            Assert.Equal(own.Caption, result.Caption.Caption);   // the same caption as one call per image
        }
    }

    [Fact]
    public async Task A_REST_batch_answers_one_JSON_line_per_image_as_each_finishes()
    {
        var photos = RsicdSlice(5020, 3);
        using var form = new MultipartFormDataContent();
        foreach (var photo in photos) form.Add(new ByteArrayContent(File.ReadAllBytes(photo)), "images", Path.GetFileName(photo));
        form.Add(new ByteArrayContent("not an image"u8.ToArray()), "images", "broken.jpg");
        var response = await fixture.Http.PostAsync("/v1/caption/batch", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType!.MediaType);
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToDictionary(l => l.GetProperty("key").GetString()!);
        Assert.Equal([.. photos.Select(Path.GetFileName).Append("broken.jpg").Order(StringComparer.Ordinal)], lines.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("InvalidArgument", lines["broken.jpg"].GetProperty("status").GetString());
        foreach (var photo in photos)
        {
            var own = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(photo) });
            Assert.Equal(own.Caption, lines[Path.GetFileName(photo)].GetProperty("caption").GetProperty("caption").GetString());
        }

        using var empty = new MultipartFormDataContent { { new StringContent("x"), "instruction" } };
        var refused = await fixture.Http.PostAsync("/v1/caption/batch", empty);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("'images'", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_are_exposed_for_prometheus()
    {
        await Captioner.AskAsync(new AskRequest { Image = Image(ConstellationFixture.Sample("harbor")), Question = "Is there water?" });
        var gateway = await fixture.Http.GetStringAsync("/metrics");
        Assert.Contains("rsmoe_gateway_stage_duration", gateway);
        Assert.Contains("rsmoe_feature_cache_hits", gateway);
        var expert = await fixture.Http.GetStringAsync($"{fixture.Constellation.Service("expert-theme").HttpAddress}/metrics");
        Assert.Contains("rsmoe_expert_generated_tokens", expert);
    }

    [Fact]
    public async Task The_load_tool_reports_throughput_latency_errors_and_refuses_other_machines()
    {
        string report = Path.Combine(Path.GetTempPath(), $"rsmoe-load-{Guid.NewGuid():N}.json");
        var (code, stdout, stderr) = Run("load", "--url", fixture.Constellation.GatewayGrpcUrl, "--concurrency", "2", "--duration", "00:00:04",
            "--warmup", "00:00:01", "--pool", "8", "--out", report);
        Assert.True(code == 0, stderr + stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        Assert.True(root.GetProperty("Requests").GetInt32() > 0);
        Assert.True(root.GetProperty("P99Ms").GetDouble() >= root.GetProperty("P50Ms").GetDouble());
        Assert.Equal(root.GetProperty("Requests").GetInt32(), root.GetProperty("ByStatus").GetProperty("OK").GetInt32());
        Assert.Contains("requests/s", stdout);
        File.Delete(report);

        // Most images new: every one the tool counts as never sent before costs the image encoder a call.
        double encodes = await fixture.MetricAsync("gateway", "rsmoe_gateway_image_encodes_total");
        (code, stdout, stderr) = Run("load", "--url", fixture.Constellation.GatewayGrpcUrl, "--concurrency", "2", "--duration", "00:00:04",
            "--warmup", "00:00:00", "--pool", "1", "--new-share", "1", "--images", SharedData.Path("rsicd", "images"), "--out", report);
        Assert.True(code == 0, stderr + stdout);
        using var fresh = JsonDocument.Parse(File.ReadAllText(report));
        int newImages = fresh.RootElement.GetProperty("NewImages").GetInt32();
        Assert.True(newImages >= fresh.RootElement.GetProperty("Requests").GetInt32() - 1, stdout);
        Assert.True(await fixture.MetricAsync("gateway", "rsmoe_gateway_image_encodes_total") - encodes >= newImages, stdout);
        Assert.Contains("never sent before", stdout);
        File.Delete(report);

        var (refused, _, why) = Run("load", "--url", "http://192.0.2.1:5081", "--duration", "00:00:01");
        Assert.Equal(2, refused);
        Assert.Contains("loopback", why);
    }

    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(LocalConstellation.BuiltAssembly("src", "RsMoe.Cli", "rsmoe"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000));
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
