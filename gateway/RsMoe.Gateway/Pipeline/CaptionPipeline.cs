using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Captions;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using ExpertClient = RsMoe.Contracts.V1.Expert.ExpertClient;
using VlmEncoderClient = RsMoe.Contracts.V1.VlmEncoder.VlmEncoderClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// A caption or an answer: visual features (cached), routing, then every expert in parallel (each with its own
/// deadline) or the top-gated one, and the merge. An expert that fails or is too slow leaves its section empty with
/// an error naming it (a partial caption); only when no expert answers does the caption fail, with <c>Unavailable</c>.
/// A question whose top-gated expert is down goes to the next expert by gate, and the answer says so.
/// </summary>
public sealed class CaptionPipeline(ResilientCalls calls, VisualFeatures features, PromptLimits limits, ExpertRoster roster, GatewayOptions options, ILogger<CaptionPipeline> logger)
{
    public const string VlmCluster = "vlm-encoder";
    public static string ExpertCluster(string role) => ExpertClusters.Cluster(role);

    static readonly ActivitySource Source = new("RsMoe.Gateway");
    static readonly Meter Meter = new("RsMoe.Gateway");
    static readonly Histogram<double> StageMs = Meter.CreateHistogram<double>("rsmoe.gateway.stage.duration", "ms", "Latency of each stage of a request");
    static readonly Counter<long> ExpertErrors = Meter.CreateCounter<long>("rsmoe.gateway.expert.errors", description: "Expert calls that failed or passed their deadline");
    static readonly Histogram<double> TokensPerSecond = Meter.CreateHistogram<double>("rsmoe.gateway.expert.tokens_per_second", "{token}/s");

    /// <summary>Checks what the caller sent before any backend is called.</summary>
    internal void ValidateText(string text, string what)
    {
        // Protobuf decodes malformed UTF-8 to U+FFFD rather than failing; refuse it as JSON parsing does.
        if (text.Contains('\uFFFD'))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"the {what} is not valid UTF-8"));
        if (text.Length > options.MaxInstructionChars)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"the {what} has {text.Length} characters; at most {options.MaxInstructionChars} are accepted"));
    }

    internal async IAsyncEnumerable<CaptionEvent> StreamCaptionAsync(ByteString image, string? instruction, DateTime deadline,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        instruction = string.IsNullOrWhiteSpace(instruction) ? options.DefaultInstruction : instruction.Trim();
        ValidateText(instruction, "instruction");
        using var activity = Source.StartActivity("caption");
        await limits.CheckAsync(instruction, "instruction", deadline, cancellationToken);
        var total = Stopwatch.StartNew();
        var timings = new Dictionary<string, double>();
        var visual = await features.GetAsync(image, deadline, cancellationToken);
        Timings(timings, visual);
        yield return new CaptionEvent { Features = visual.Cache };
        // An async iterator resumes in its caller's context: make this request's span current again for what follows.
        Activity.Current = activity;

        var routing = await RouteAsync(visual.Tokens, instruction, deadline, timings, cancellationToken);
        var events = Channel.CreateUnbounded<CaptionEvent>(new UnboundedChannelOptions { SingleReader = true });
        var fanOut = Stopwatch.StartNew();
        var settings = new GenerationSettings { MaxNewTokens = options.CaptionMaxNewTokens, RepetitionPenalty = options.CaptionRepetitionPenalty };
        var failures = new System.Collections.Concurrent.ConcurrentDictionary<string, StatusCode>();
        var calls = routing.Prefixes.Select(p => WriteSectionAsync(p, instruction, settings, deadline, events.Writer, timings, failures, activity?.Context, cancellationToken)).ToList();
        _ = Task.WhenAll(calls).ContinueWith(_ => events.Writer.TryComplete(), TaskScheduler.Default);
        await foreach (var e in events.Reader.ReadAllAsync(cancellationToken)) yield return e;
        Activity.Current = activity;
        var sections = await Task.WhenAll(calls);
        Record(timings, "experts", fanOut.Elapsed.TotalMilliseconds);

        // Every expert refused the request itself: that is the caller's fault, said as such, not a backend outage.
        if (sections.All(s => s.Error.Length > 0) && failures.Values.All(status => status == StatusCode.InvalidArgument))
            throw new RpcException(new Status(StatusCode.InvalidArgument, string.Join("; ", sections.Select(s => s.Error))));
        // The caller's own deadline ended every expert's call: say so, rather than call it an outage.
        if (sections.All(s => s.Error.Length > 0) && failures.Values.All(status => status == StatusCode.DeadlineExceeded) && DateTime.UtcNow >= deadline)
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, "the caller's deadline passed before any expert answered"));
        if (sections.All(s => s.Error.Length > 0))
            throw new RpcException(new Status(StatusCode.Unavailable, "no expert answered: " + string.Join("; ", sections.Select(s => s.Error))));
        var written = sections.Where(s => s.Error.Length == 0).Select(s => new CaptionSection(s.Aspect, s.Expert, s.Text));
        var (caption, merged) = SectionMerger.Merge(written);
        var byAspect = merged.ToDictionary(s => s.Aspect);
        var done = new CaptionResponse { Caption = caption, Cache = visual.Cache };
        foreach (var s in sections)
            done.Sections.Add(byAspect.TryGetValue(s.Aspect, out var m) ? new Section { Aspect = s.Aspect, Expert = s.Expert, Text = m.Text } : s);
        done.Gate.Add(routing.Gate);
        Record(timings, "total", total.Elapsed.TotalMilliseconds);
        done.TimingsMs.Add(timings);
        activity?.SetTag("rsmoe.cache", visual.Cache.ToString());
        yield return new CaptionEvent { Done = done };
    }

    async Task<Section> WriteSectionAsync(ExpertPrefix prefix, string prompt, GenerationSettings settings, DateTime deadline,
        ChannelWriter<CaptionEvent> events, Dictionary<string, double> timings, IDictionary<string, StatusCode> failures, ActivityContext? parent,
        CancellationToken cancellationToken)
    {
        string role = prefix.Role;
        using var activity = parent is { } context ? Source.StartActivity($"expert {role}", ActivityKind.Internal, context) : Source.StartActivity($"expert {role}");
        var clock = Stopwatch.StartNew();
        var section = new Section { Aspect = role, Expert = role };
        try
        {
            var expertDeadline = StageDeadline.Of(deadline, options.ExpertTimeout);
            await calls.CallAsync(ExpertCluster(role), expertDeadline, async (channel, answered) =>
            {
                using var stream = new ExpertClient(channel).GenerateStream(new GenerateRequest { Prefix = prefix.Prefix, Prompt = prompt, Settings = settings },
                    deadline: expertDeadline.At, cancellationToken: cancellationToken);
                await foreach (var e in stream.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    answered.Value = true;   // tokens went out: from here a failure is not retried
                    if (e.Done)
                    {
                        section.Text = e.Result.Text;
                        section.Expert = $"{role}@{e.Result.Version}";
                        if (e.Result.DecodeTokensPerSecond > 0) TokensPerSecond.Record(e.Result.DecodeTokensPerSecond, new KeyValuePair<string, object?>("role", role));
                    }
                    else events.TryWrite(new CaptionEvent { Token = new SectionToken { Aspect = role, Text = e.Text } });
                }
                return true;
            }, cancellationToken);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            ExpertErrors.Add(1, new KeyValuePair<string, object?>("role", role), new KeyValuePair<string, object?>("status", e.StatusCode.ToString()));
            logger.LogWarning("Expert {Role} failed: {Status} {Detail}", role, e.StatusCode, e.Status.Detail);
            failures[role] = e.StatusCode;
            // Plain words for people; the transport's own detail goes to the log above.
            section.Error = e.StatusCode switch
            {
                StatusCode.DeadlineExceeded => $"the {role} expert did not answer in time",
                StatusCode.Unavailable => $"the {role} expert is unavailable",
                StatusCode.InvalidArgument => $"the {role} expert refused the request: {e.Status.Detail}",
                _ => $"the {role} expert failed ({e.StatusCode})",
            };
            activity?.SetStatus(ActivityStatusCode.Error, section.Error);
        }
        lock (timings) Record(timings, $"expert_{role}", clock.Elapsed.TotalMilliseconds);
        events.TryWrite(new CaptionEvent { SectionDone = section });
        return section;
    }

    internal async Task<CaptionResponse> CaptionAsync(ByteString image, string? instruction, DateTime deadline, CancellationToken cancellationToken)
    {
        await foreach (var e in StreamCaptionAsync(image, instruction, deadline, cancellationToken))
            if (e.EventCase == CaptionEvent.EventOneofCase.Done) return e.Done;
        throw new InvalidOperationException("the caption stream ended without a result");
    }

    internal async Task<AskResponse> AskAsync(ByteString image, string question, DateTime deadline, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(question)) throw new RpcException(new Status(StatusCode.InvalidArgument, "the question is empty"));
        question = question.Trim();
        ValidateText(question, "question");
        using var activity = Source.StartActivity("ask");
        await limits.CheckAsync(question, "question", deadline, cancellationToken);
        var total = Stopwatch.StartNew();
        var timings = new Dictionary<string, double>();
        var visual = await features.GetAsync(image, deadline, cancellationToken);
        Timings(timings, visual);
        var routing = await RouteAsync(visual.Tokens, question, deadline, timings, cancellationToken);
        // The policy's order: the top-gated expert answers; when it is down (not when it refuses the question), the next one does.
        var byGate = CaptionPolicy.AnswerOrder(routing.Gate);
        GenerateResponse? answer = null;
        string answeredBy = "", fallbackReason = "";
        foreach (int index in byGate)
        {
            var prefix = routing.Prefixes[index];
            var clock = Stopwatch.StartNew();
            var expertDeadline = StageDeadline.Of(deadline, options.ExpertTimeout);
            try
            {
                answer = await calls.CallAsync(ExpertCluster(prefix.Role), expertDeadline, (channel, _) => new ExpertClient(channel).GenerateAsync(
                    new GenerateRequest { Prefix = prefix.Prefix, Prompt = question, Settings = new GenerationSettings { MaxNewTokens = options.AskMaxNewTokens } },
                    deadline: expertDeadline.At, cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
                answeredBy = prefix.Role;
                Record(timings, $"expert_{prefix.Role}", clock.Elapsed.TotalMilliseconds);
                break;
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                ExpertErrors.Add(1, new KeyValuePair<string, object?>("role", prefix.Role), new KeyValuePair<string, object?>("status", e.StatusCode.ToString()));
                if (!ReplicaFailure.Counts(e.StatusCode, expertDeadline))
                    throw e.StatusCode is StatusCode.DeadlineExceeded ? new RpcException(new Status(StatusCode.DeadlineExceeded, $"the {prefix.Role} expert did not answer in time")) : e;
                logger.LogWarning("Expert {Role} failed a question ({Status} {Detail}); the next expert by gate answers", prefix.Role, e.StatusCode, e.Status.Detail);
                string reason = $"the {prefix.Role} expert is unavailable ({e.StatusCode})";
                if (fallbackReason.Length == 0) fallbackReason = reason;
                if (index == byGate[^1] || DateTime.UtcNow >= deadline)
                    throw new RpcException(new Status(e.StatusCode is StatusCode.DeadlineExceeded ? StatusCode.DeadlineExceeded : StatusCode.Unavailable,
                        $"no expert could answer: {fallbackReason}{(byGate.Count > 1 ? "; every other expert failed too" : "")}"));
            }
        }
        Record(timings, "total", total.Elapsed.TotalMilliseconds);
        bool fallback = answeredBy != routing.Prefixes[byGate[0]].Role;
        var response = new AskResponse
        {
            Answer = answer!.Text, Expert = $"{answeredBy}@{answer.Version}", Cache = visual.Cache,
            Fallback = fallback, FallbackReason = fallback ? fallbackReason : "",
        };
        response.Gate.Add(routing.Gate);
        response.TimingsMs.Add(timings);
        return response;
    }

    async Task<RouteResponse> RouteAsync(Tensor tokens, string instruction, DateTime deadline, Dictionary<string, double> timings, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        RouteResponse routing;
        try
        {
            var stageDeadline = StageDeadline.Of(deadline, options.VlmEncoderTimeout);
            routing = await calls.CallAsync(VlmCluster, stageDeadline, (channel, _) => new VlmEncoderClient(channel).RouteAsync(
                new RouteRequest { VisualTokens = tokens, Instruction = instruction },
                deadline: stageDeadline.At, cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
        }
        catch (RpcException e)
        {
            throw BackendFailure.Explain(VlmCluster, e);
        }
        Record(timings, "vlm_encoder", clock.Elapsed.TotalMilliseconds);
        // The router names the experts: one the gateway has not seen before gets its cluster from the template now.
        await roster.LearnAsync(routing.Prefixes.Select(p => p.Role).ToList(), cancellationToken);
        return routing;
    }

    static void Timings(Dictionary<string, double> timings, VisualFeatures.Result visual)
    {
        Record(timings, "cache_lookup", visual.LookupMs);
        if (visual.Cache == CacheOutcome.Miss) Record(timings, "image_encoder", visual.EncodeMs);
    }

    static void Record(Dictionary<string, double> timings, string stage, double ms)
    {
        timings[stage] = Math.Round(ms, 2);
        StageMs.Record(ms, new KeyValuePair<string, object?>("stage", stage));
    }
}
