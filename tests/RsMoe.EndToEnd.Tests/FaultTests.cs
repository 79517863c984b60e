using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;

namespace RsMoe.EndToEnd.Tests;

/// <summary>
/// Services stopped, frozen or gone while the gateway serves. The documented policy: a caption whose expert is
/// unavailable or too slow comes back within the caller's deadline with the other sections and an error naming the
/// missing one; a question whose chosen expert, or any shared stage, is down fails with a clear Unavailable.
/// Everything recovers when the service returns, without restarting the gateway.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FaultTests(FaultFixture fixture)
{
    Captioner.CaptionerClient Captioner => new(fixture.Gateway);
    static ByteString Image(string path) => ByteString.CopyFrom(File.ReadAllBytes(path));
    static ByteString Rsscn7(string file) => Image(SharedData.Path("rsscn7", "images", file));
    static DateTime Deadline => DateTime.UtcNow.AddSeconds(20);

    [Fact]
    public async Task A_stopped_expert_gives_a_partial_caption_naming_the_missing_section_then_recovers()
    {
        var image = Image(ConstellationFixture.Sample("airport"));
        fixture.Constellation.Service("expert-relationships").Kill();
        try
        {
            var partial = await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline);
            Assert.Equal(["theme", "objects", "relationships"], partial.Sections.Select(s => s.Aspect));
            Assert.Contains("relationships", partial.Sections[2].Error);
            Assert.Equal("", partial.Sections[2].Text);
            Assert.All(partial.Sections.Take(2), s => Assert.Equal("", s.Error));
            Assert.StartsWith(partial.Sections[0].Text, partial.Caption);

            var listed = await Captioner.ListExpertsAsync(new ListExpertsRequest());
            Assert.Equal("NOT_SERVING", listed.Experts.Single(e => e.Role == "relationships").Health);
        }
        finally
        {
            await fixture.RestartAsync("expert-relationships");
        }
        var whole = await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline);
        Assert.All(whole.Sections, s => Assert.Equal("", s.Error));
    }

    [Fact]
    public async Task A_hung_expert_is_cut_off_at_its_own_deadline_and_the_caption_still_arrives()
    {
        var theme = fixture.Constellation.Service("expert-theme");
        theme.Freeze();
        try
        {
            // The gateway gives each expert 8 s here; the caller allows 20 s and gets an answer inside it.
            var partial = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("harbor")) }, deadline: Deadline);
            Assert.Contains("theme", partial.Sections[0].Error);
            Assert.Equal("", partial.Sections[1].Error);
            Assert.Equal("", partial.Sections[2].Error);
        }
        finally
        {
            theme.Thaw();
            await fixture.RestartAsync("expert-theme");
        }
        var whole = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("harbor")) }, deadline: Deadline);
        Assert.All(whole.Sections, s => Assert.Equal("", s.Error));
    }

    [Fact]
    public async Task With_one_replica_of_an_expert_down_calls_are_retried_on_the_other_its_circuit_opens_and_traffic_goes_elsewhere_until_it_recovers()
    {
        double retried = await fixture.MetricAsync("gateway", "rsmoe_gateway_retries_total");
        double opened = await fixture.MetricAsync("gateway", "rsmoe_gateway_circuits_opened_total");
        fixture.Constellation.Service("expert-objects-2").Kill();
        bool restarted = false;
        try
        {
            // Every caption keeps its objects section: a call that lands on the dead replica is retried on the live one,
            // until three failures in a row open the dead replica's circuit.
            for (int i = 0; i < 40 && await fixture.MetricAsync("gateway", "rsmoe_gateway_circuits_opened_total") == opened; i++)
                AssertWhole(await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample(i % 2 == 0 ? "harbor" : "forest")) }, deadline: Deadline));
            Assert.True(await fixture.MetricAsync("gateway", "rsmoe_gateway_retries_total") > retried, "no call was retried");
            Assert.True(await fixture.MetricAsync("gateway", "rsmoe_gateway_circuits_opened_total") > opened, "the dead replica's circuit did not open");

            // While the circuit is open (10 s) nothing is sent to the dead replica: no call needs a retry.
            var open = System.Diagnostics.Stopwatch.StartNew();
            double retriedWhenOpened = await fixture.MetricAsync("gateway", "rsmoe_gateway_retries_total");
            for (int i = 0; i < 3; i++)
                AssertWhole(await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("harbor")) }, deadline: Deadline));
            Assert.True(open.Elapsed < TimeSpan.FromSeconds(9), $"the captions took {open.Elapsed}, longer than the circuit stays open");
            Assert.Equal(retriedWhenOpened, await fixture.MetricAsync("gateway", "rsmoe_gateway_retries_total"));

            // Back up, the replica gets traffic again once its circuit half-opens.
            await fixture.RestartAsync("expert-objects-2");
            restarted = true;
            double served = await fixture.MetricAsync("expert-objects-2", "rsmoe_expert_generated_tokens_total");
            for (int i = 0; i < 60 && await fixture.MetricAsync("expert-objects-2", "rsmoe_expert_generated_tokens_total") == served; i++)
            {
                AssertWhole(await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("forest")) }, deadline: Deadline));
                await Task.Delay(250);
            }
            Assert.True(await fixture.MetricAsync("expert-objects-2", "rsmoe_expert_generated_tokens_total") > served, "the recovered replica got no traffic");
        }
        finally
        {
            if (!restarted) await fixture.RestartAsync("expert-objects-2");
        }
    }

    [Fact]
    public async Task Fifty_bad_requests_of_each_kind_open_no_circuit_and_another_caller_is_served_at_once()
    {
        var image = Image(ConstellationFixture.Sample("harbor"));
        AssertWhole(await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline));   // cached: bad calls reach the experts at once
        double opened = await fixture.MetricAsync("gateway", "rsmoe_gateway_circuits_opened_total");
        string punctuation = new('!', 1980);   // under the 2,000-character limit, far over the experts' context in tokens
        for (int i = 0; i < 50; i++)
        {
            var tooLong = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.CaptionAsync(new CaptionRequest { Image = image, Instruction = punctuation }, deadline: Deadline));
            Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
            Assert.Matches("the instruction has [0-9]+ tokens; the experts accept at most [0-9]+", tooLong.Status.Detail);
            var question = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.AskAsync(new AskRequest { Image = image, Question = punctuation + "?" }, deadline: Deadline));
            Assert.Equal(StatusCode.InvalidArgument, question.StatusCode);

            // The caller's own deadline ends the call while the relationships expert writes (30 ms a token here).
            try { await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: DateTime.UtcNow.AddMilliseconds(400)); }
            catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded) { }

            // The caller gives up mid-caption.
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(250));
            try { await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline, cancellationToken: cancel.Token); }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled) { }
        }
        using var rest = new StringContent($$"""{"image":"{{Convert.ToBase64String(image.ToByteArray())}}","instruction":"{{punctuation}}"}""", System.Text.Encoding.UTF8, "application/json");
        var problem = await fixture.Http.PostAsync("/v1/caption", rest);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, problem.StatusCode);
        Assert.Contains("tokens", await problem.Content.ReadAsStringAsync());

        // Another client is served whole at once, and no circuit opened.
        using var other = Grpc.Net.Client.GrpcChannel.ForAddress(fixture.Constellation.GatewayGrpcUrl);
        for (int i = 0; i < 3; i++)
            AssertWhole(await new Captioner.CaptionerClient(other).CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline));
        Assert.Equal(opened, await fixture.MetricAsync("gateway", "rsmoe_gateway_circuits_opened_total"));
    }

    [Fact]
    public async Task A_question_whose_expert_is_down_is_answered_by_the_next_expert_by_gate_and_says_so()
    {
        var image = Image(ConstellationFixture.Sample("farmland"));
        const string Question = "What is the theme of this picture?";
        var chosen = await Captioner.AskAsync(new AskRequest { Image = image, Question = Question }, deadline: Deadline);
        Assert.StartsWith("theme@", chosen.Expert);
        Assert.False(chosen.Fallback);
        Assert.Equal("", chosen.FallbackReason);
        fixture.Constellation.Service("expert-theme").Kill();
        try
        {
            var fallback = await Captioner.AskAsync(new AskRequest { Image = image, Question = Question }, deadline: Deadline);
            Assert.True(fallback.Fallback);
            Assert.DoesNotContain("theme@", fallback.Expert);
            Assert.Contains("theme expert is unavailable", fallback.FallbackReason);
            Assert.False(string.IsNullOrWhiteSpace(fallback.Answer));

            using var body = new StringContent($$"""{"image":"{{Convert.ToBase64String(image.ToByteArray())}}","question":"{{Question}}"}""", System.Text.Encoding.UTF8, "application/json");
            var json = System.Text.Json.JsonDocument.Parse(await (await fixture.Http.PostAsync("/v1/ask", body)).Content.ReadAsStringAsync()).RootElement;
            Assert.True(json.GetProperty("fallback").GetBoolean());
            Assert.Contains("theme", json.GetProperty("fallback_reason").GetString());
        }
        finally
        {
            await fixture.RestartAsync("expert-theme");
        }
        Assert.False((await Captioner.AskAsync(new AskRequest { Image = image, Question = Question }, deadline: Deadline)).Fallback);
    }

    [Fact]
    public async Task A_reload_reaches_every_replica_of_the_role_and_refuses_unknown_roles_and_relative_paths()
    {
        string theme = Path.Combine(ConstellationFixture.ModelDirectory, "experts", "theme");
        var swapped = await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "objects", AdapterPath = theme }, deadline: DateTime.UtcNow.AddMinutes(2));
        try
        {
            Assert.Equal(2, swapped.Replicas.Count);
            Assert.Equal(2, swapped.Reloaded);
            Assert.All(swapped.Replicas, r => Assert.StartsWith("theme-", r.Version));
            // Each replica, asked directly, serves the new checkpoint.
            foreach (var name in new[] { "expert-objects", "expert-objects-2" })
            {
                using var direct = Grpc.Net.Client.GrpcChannel.ForAddress(fixture.Constellation.Service(name).GrpcAddress);
                var info = await new Expert.ExpertClient(direct).InfoAsync(new ExpertInfoRequest(), new Metadata { { "x-rsmoe-internal", fixture.Constellation.InternalCredential } });
                Assert.Equal(swapped.Replicas[0].Version, info.Version);
            }
        }
        finally
        {
            var restored = await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "objects" }, deadline: DateTime.UtcNow.AddMinutes(2));
            Assert.Equal(2, restored.Reloaded);
        }
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "colour" }));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("theme, objects, relationships", unknown.Status.Detail);
        var relative = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "objects", AdapterPath = "experts/theme" }));
        Assert.Equal(StatusCode.InvalidArgument, relative.StatusCode);
        Assert.Contains("relative", relative.Status.Detail);
    }

    [Fact]
    public async Task Captions_in_flight_during_a_reload_finish_on_the_old_weights_and_later_ones_use_the_new()
    {
        string[] samples = ["airport", "river", "farmland"];
        foreach (var sample in samples) await Captioner.AskAsync(new AskRequest { Image = Image(ConstellationFixture.Sample(sample)), Question = "What is this?" }, deadline: Deadline);
        var before = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("airport")) }, deadline: Deadline);
        string old = before.Sections[2].Expert;
        var inFlight = samples.Select(sample => Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample(sample)) }, deadline: Deadline).ResponseAsync).ToList();
        await Task.Delay(400);   // with the relationships expert (30 ms a token here)
        var swapped = await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "relationships", AdapterPath = Path.Combine(ConstellationFixture.ModelDirectory, "experts", "theme") },
            deadline: DateTime.UtcNow.AddMinutes(2));
        try
        {
            Assert.Equal(1, swapped.Reloaded);
            // Every caption that was asked before the reload was written by the old weights, not "either version".
            foreach (var caption in await Task.WhenAll(inFlight))
            {
                AssertWhole(caption);
                Assert.Equal(old, caption.Sections[2].Expert);
            }
            var after = await Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample("airport")) }, deadline: Deadline);
            Assert.Equal($"relationships@{swapped.Replicas[0].Version}", after.Sections[2].Expert);
            Assert.NotEqual(old, after.Sections[2].Expert);
        }
        finally
        {
            Assert.Equal(1, (await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "relationships" }, deadline: DateTime.UtcNow.AddMinutes(2))).Reloaded);
        }
    }

    static void AssertWhole(CaptionResponse caption) =>
        Assert.True(caption.Sections.All(s => s.Error == ""), string.Join("; ", caption.Sections.Select(s => s.Error)));

    [Fact]
    public async Task A_stopping_expert_finishes_the_requests_it_has_before_it_exits()
    {
        var relationships = fixture.Constellation.Service("expert-relationships");
        string[] samples = ["airport", "river", "farmland"];
        // Features cached first, so all three captions reach the experts at once.
        foreach (var sample in samples) await Captioner.AskAsync(new AskRequest { Image = Image(ConstellationFixture.Sample(sample)), Question = "What is this?" }, deadline: Deadline);
        var captions = samples.Select(sample => Captioner.CaptionAsync(new CaptionRequest { Image = Image(ConstellationFixture.Sample(sample)) }, deadline: Deadline).ResponseAsync).ToList();
        await Task.Delay(400);   // all three are with the experts (relationships writes at 30 ms a token here)
        var stopping = Task.Run(() => relationships.Stop(TimeSpan.FromSeconds(20)));   // SIGTERM, then wait
        try
        {
            foreach (var caption in await Task.WhenAll(captions))
                Assert.True(caption.Sections.All(s => s.Error == ""), string.Join("; ", caption.Sections.Select(s => s.Error)));
            await stopping;
            Assert.False(relationships.IsRunning);
            Assert.Contains("Application is shutting down", relationships.Tail(40));
        }
        finally
        {
            await stopping;
            await fixture.RestartAsync("expert-relationships");
        }
    }

    [Fact]
    public async Task With_the_image_encoder_down_cached_images_are_answered_and_new_ones_are_unavailable_until_it_returns()
    {
        var seen = Rsscn7("eForest/e010.jpg");
        var unseen = Rsscn7("eForest/e011.jpg");
        Assert.Equal(CacheOutcome.Miss, (await Captioner.AskAsync(new AskRequest { Image = seen, Question = "Is this a forest?" }, deadline: Deadline)).Cache);
        fixture.Constellation.Service("image-encoder").Kill();
        try
        {
            var cached = await Captioner.AskAsync(new AskRequest { Image = seen, Question = "Are there trees?" }, deadline: Deadline);
            Assert.Equal(CacheOutcome.Hit, cached.Cache);
            var e = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.AskAsync(new AskRequest { Image = unseen, Question = "Is this a forest?" }, deadline: Deadline));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Contains("image-encoder", e.Status.Detail);
        }
        finally
        {
            await fixture.RestartAsync("image-encoder");
        }
        Assert.Equal(CacheOutcome.Miss, (await Captioner.AskAsync(new AskRequest { Image = unseen, Question = "Is this a forest?" }, deadline: Deadline)).Cache);
    }

    /// <summary>
    /// An operator swaps the image encoder's checkpoint: the next lookup asks the encoder who it is, finds features cached
    /// under another identity and encodes again. The stand-in for a retrained ResNet-18 is the same graph with a
    /// different <c>doc_string</c> appended (protobuf keeps the last), so its weights' digest, the identity, differ.
    /// </summary>
    [Fact]
    public async Task After_an_image_encoder_swap_features_of_the_old_encoder_are_never_served()
    {
        var image = Rsscn7("eForest/e013.jpg");
        const string question = "Is this a forest?";
        await Captioner.AskAsync(new AskRequest { Image = image, Question = question }, deadline: Deadline);
        Assert.Equal(CacheOutcome.Hit, (await Captioner.AskAsync(new AskRequest { Image = image, Question = question }, deadline: Deadline)).Cache);

        var encoder = fixture.Constellation.Service("image-encoder");
        string swapped = Directory.CreateTempSubdirectory("rsmoe-encoder-swap-").FullName;
        CopyDirectory(Path.Combine(Path.GetDirectoryName(encoder.Assembly)!, "DnnImageModels"), swapped);
        using (var onnx = new FileStream(Path.Combine(swapped, "ResNet18Onnx", "ResNet18.onnx"), FileMode.Append))
            onnx.Write([0x32, 7, .. "retrain"u8]);   // ModelProto field 6 (doc_string), length 7
        encoder.Kill();
        encoder.Environment["ImageEncoder__ResNetDirectory"] = swapped;
        try
        {
            await fixture.RestartAsync("image-encoder");
            double encodes = await fixture.MetricAsync("gateway", "rsmoe_gateway_image_encodes_total");
            var after = await Captioner.AskAsync(new AskRequest { Image = image, Question = question }, deadline: Deadline);
            Assert.Equal(CacheOutcome.Miss, after.Cache);
            Assert.Equal(encodes + 1, await fixture.MetricAsync("gateway", "rsmoe_gateway_image_encodes_total"));
            Assert.NotEmpty(after.Answer);
            Assert.Equal(CacheOutcome.Hit, (await Captioner.AskAsync(new AskRequest { Image = image, Question = question }, deadline: Deadline)).Cache);
        }
        finally
        {
            encoder.Kill();
            encoder.Environment.Remove("ImageEncoder__ResNetDirectory");
            await fixture.RestartAsync("image-encoder");
            Directory.Delete(swapped, recursive: true);
        }
    }

    static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public async Task With_the_vlm_encoder_down_requests_are_unavailable_until_it_returns()
    {
        var image = Image(ConstellationFixture.Sample("parking-lot"));
        fixture.Constellation.Service("vlm-encoder").Kill();
        try
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        }
        finally
        {
            await fixture.RestartAsync("vlm-encoder");
        }
        Assert.Equal(3, (await Captioner.CaptionAsync(new CaptionRequest { Image = image }, deadline: Deadline)).Sections.Count(s => s.Error == ""));
    }

    [Fact]
    public async Task With_redis_hung_requests_succeed_after_the_cache_timeout_and_the_bypass_is_counted()
    {
        double bypassed = await fixture.MetricAsync("gateway", "rsmoe_feature_cache_bypasses_total");
        fixture.Constellation.FreezeRedis();
        try
        {
            var answer = await Captioner.AskAsync(new AskRequest { Image = Rsscn7("gParking/g030.jpg"), Question = "Are there cars?" }, deadline: Deadline);
            Assert.Equal(CacheOutcome.Miss, answer.Cache);
            Assert.False(string.IsNullOrWhiteSpace(answer.Answer));
            Assert.True(await fixture.MetricAsync("gateway", "rsmoe_feature_cache_bypasses_total") > bypassed);
        }
        finally
        {
            fixture.Constellation.ThawRedis();
        }
    }

    [Fact]
    public async Task With_redis_down_requests_succeed_without_the_cache_and_the_bypass_is_counted()
    {
        double bypassed = await fixture.MetricAsync("gateway", "rsmoe_feature_cache_bypasses_total");
        fixture.Constellation.KillRedis();
        try
        {
            var image = Rsscn7("fResident/f020.jpg");
            for (int i = 0; i < 2; i++)
            {
                var answer = await Captioner.AskAsync(new AskRequest { Image = image, Question = "Are there houses?" }, deadline: Deadline);
                Assert.Equal(CacheOutcome.Miss, answer.Cache);
            }
            Assert.True(await fixture.MetricAsync("gateway", "rsmoe_feature_cache_bypasses_total") > bypassed);
        }
        finally
        {
            fixture.Constellation.RestartRedis();
        }
        // The client reconnects by itself: caching resumes without restarting the gateway.
        var again = Rsscn7("fResident/f021.jpg");
        await Captioner.AskAsync(new AskRequest { Image = again, Question = "Are there houses?" }, deadline: Deadline);
        for (int attempt = 0; attempt < 50; attempt++)
        {
            var answer = await Captioner.AskAsync(new AskRequest { Image = again, Question = "Is there a road?" }, deadline: Deadline);
            if (answer.Cache == CacheOutcome.Hit) return;
            await Task.Delay(200);
        }
        Assert.Fail("the cache did not come back after Redis restarted");
    }
}
