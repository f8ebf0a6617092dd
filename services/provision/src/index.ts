export { provisionService } from "./service.ts";
